// C interface to the parts of OpenCV that gocv v0.31 does not expose: SIFT
// with parameters, and the global thread count. Every function catches C++
// exceptions; an error comes back as a malloc'd message the caller frees.
#ifndef IMAGING_TUI_SIFT_PARAMS_H
#define IMAGING_TUI_SIFT_PARAMS_H

#ifdef __cplusplus
extern "C" {
#endif

// ituiSIFT is an opaque cv::Ptr<cv::SIFT>*.
typedef void *ituiSIFT;

typedef struct ituiKeyPoint {
    float x, y, size, angle, response;
    int octave;
} ituiKeyPoint;

ituiSIFT ituiSIFTCreate(int nfeatures, int nOctaveLayers, double contrastThreshold,
                        double edgeThreshold, double sigma, char **err);
void ituiSIFTClose(ituiSIFT s);

// ituiSIFTDetectAndCompute runs SIFT on src (a cv::Mat*, 8-bit gray) and
// writes the descriptors into desc (a cv::Mat*, CV_32F, one row a keypoint).
// On success it returns 0 and sets *kps to a malloc'd array of *n keypoints
// (NULL when *n is 0) that the caller frees with ituiFree.
int ituiSIFTDetectAndCompute(ituiSIFT s, void *src, void *desc, ituiKeyPoint **kps, int *n,
                             char **err);

// ituiIMDecode decodes len bytes at data with cv::imdecode(flags) into dst
// (a cv::Mat*). It returns 0 on success (dst may be empty if no decoder
// accepted the data) and -1 with *err set if OpenCV threw, as it does for
// an image over its size limits.
int ituiIMDecode(const void *data, int len, int flags, void *dst, char **err);

void ituiFree(void *p);
void ituiSetNumThreads(int n);
int ituiGetNumThreads(void);
// ituiVersion returns a static string; do not free it.
const char *ituiVersion(void);

#ifdef __cplusplus
}
#endif

#endif
