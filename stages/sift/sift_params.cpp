#include "sift_params.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/features2d.hpp>
#include <opencv2/imgcodecs.hpp>

static char *dupError(const char *msg) {
    size_t n = std::strlen(msg);
    char *out = static_cast<char *>(std::malloc(n + 1));
    if (out != nullptr) {
        std::memcpy(out, msg, n + 1);
    }
    return out;
}

static void setError(char **err, const std::exception &e) {
    if (err != nullptr) {
        *err = dupError(e.what());
    }
}

ituiSIFT ituiSIFTCreate(int nfeatures, int nOctaveLayers, double contrastThreshold,
                        double edgeThreshold, double sigma, char **err) {
    try {
        return new cv::Ptr<cv::SIFT>(
            cv::SIFT::create(nfeatures, nOctaveLayers, contrastThreshold, edgeThreshold, sigma));
    } catch (const std::exception &e) {
        setError(err, e);
        return nullptr;
    }
}

void ituiSIFTClose(ituiSIFT s) {
    delete static_cast<cv::Ptr<cv::SIFT> *>(s);
}

int ituiSIFTDetectAndCompute(ituiSIFT s, void *src, void *desc, ituiKeyPoint **kps, int *n,
                             char **err) {
    *kps = nullptr;
    *n = 0;
    try {
        cv::Ptr<cv::SIFT> &sift = *static_cast<cv::Ptr<cv::SIFT> *>(s);
        std::vector<cv::KeyPoint> found;
        sift->detectAndCompute(*static_cast<cv::Mat *>(src), cv::noArray(), found,
                               *static_cast<cv::Mat *>(desc));
        if (found.empty()) {
            return 0;
        }
        ituiKeyPoint *out =
            static_cast<ituiKeyPoint *>(std::malloc(found.size() * sizeof(ituiKeyPoint)));
        if (out == nullptr) {
            throw std::bad_alloc();
        }
        for (size_t i = 0; i < found.size(); ++i) {
            const cv::KeyPoint &k = found[i];
            out[i] = ituiKeyPoint{k.pt.x, k.pt.y, k.size, k.angle, k.response, k.octave};
        }
        *kps = out;
        *n = static_cast<int>(found.size());
        return 0;
    } catch (const std::exception &e) {
        setError(err, e);
        return -1;
    }
}

int ituiIMDecode(const void *data, int len, int flags, void *dst, char **err) {
    try {
        cv::Mat buf(1, len, CV_8U, const_cast<void *>(data));
        *static_cast<cv::Mat *>(dst) = cv::imdecode(buf, flags);
        return 0;
    } catch (const std::exception &e) {
        setError(err, e);
        return -1;
    }
}

void ituiFree(void *p) {
    std::free(p);
}

void ituiSetNumThreads(int n) {
    cv::setNumThreads(n);
}

int ituiGetNumThreads(void) {
    return cv::getNumThreads();
}

const char *ituiVersion(void) {
    static const std::string version = cv::getVersionString();
    return version.c_str();
}
