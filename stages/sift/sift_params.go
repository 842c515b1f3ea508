package sift

/*
#cgo !windows pkg-config: opencv4
#cgo CXXFLAGS: --std=c++11
#include <stdlib.h>
#include "sift_params.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"gocv.io/x/gocv"
)

// This file is the package's own cgo: gocv v0.31 creates SIFT only with
// OpenCV's default parameters, has no way to set OpenCV's thread count, and
// its IMDecode lets OpenCV exceptions escape, which aborts the process.

// SetNumThreads sets the number of threads OpenCV uses inside one call
// (cv::setNumThreads) for the whole process. n <= 0 lets OpenCV choose
// (cv::setNumThreads(-1) restores its default); 1 runs every call on the
// calling thread, the right choice when several Detectors run in parallel.
func SetNumThreads(n int) {
	if n <= 0 {
		n = -1
	}
	C.ituiSetNumThreads(C.int(n))
}

// NumThreads returns OpenCV's current thread count (cv::getNumThreads).
func NumThreads() int {
	return int(C.ituiGetNumThreads())
}

// OpenCVVersion returns the version of the OpenCV library in use
// (cv::getVersionString), such as "4.6.0".
func OpenCVVersion() string {
	return C.GoString(C.ituiVersion())
}

// imdecode is gocv.IMDecode with OpenCV's exceptions caught: cv::imdecode
// throws (outside its own try blocks) for an image over its size limits, and
// gocv v0.31 does not catch it, so the process aborts. It decodes into a
// new gocv Mat the caller must Close; the Mat is empty if no decoder
// accepted the data.
func imdecode(data []byte, flags gocv.IMReadFlag) (gocv.Mat, error) {
	if len(data) == 0 {
		return gocv.Mat{}, errors.New("empty input")
	}
	if len(data) > math.MaxInt32 {
		return gocv.Mat{}, fmt.Errorf("%d bytes is more than OpenCV can take", len(data))
	}
	dst := gocv.NewMat()
	var cerr *C.char
	if C.ituiIMDecode(unsafe.Pointer(&data[0]), C.int(len(data)), C.int(flags), unsafe.Pointer(dst.Ptr()), &cerr) != 0 {
		dst.Close()
		return gocv.Mat{}, takeError(cerr)
	}
	return dst, nil
}

// siftHandle owns a cv::Ptr<cv::SIFT>.
type siftHandle struct {
	p C.ituiSIFT
}

func newSIFT(o Options) (siftHandle, error) {
	var cerr *C.char
	p := C.ituiSIFTCreate(C.int(o.MaxFeatures), C.int(o.OctaveLayers),
		C.double(o.ContrastThreshold), C.double(o.EdgeThreshold), C.double(o.Sigma), &cerr)
	if p == nil {
		return siftHandle{}, takeError(cerr)
	}
	return siftHandle{p: p}, nil
}

func (h *siftHandle) close() {
	if h.p != nil {
		C.ituiSIFTClose(h.p)
		h.p = nil
	}
}

// detectAndCompute runs SIFT on gray (8-bit, one channel) and writes the
// descriptors into desc, which the caller owns.
func (h *siftHandle) detectAndCompute(gray, desc *gocv.Mat) ([]C.ituiKeyPoint, error) {
	var kps *C.ituiKeyPoint
	var n C.int
	var cerr *C.char
	if C.ituiSIFTDetectAndCompute(h.p, unsafe.Pointer(gray.Ptr()), unsafe.Pointer(desc.Ptr()),
		&kps, &n, &cerr) != 0 {
		return nil, takeError(cerr)
	}
	if n == 0 {
		return nil, nil
	}
	defer C.ituiFree(unsafe.Pointer(kps))
	// Copy out of C memory before freeing it.
	return append([]C.ituiKeyPoint(nil), unsafe.Slice(kps, int(n))...), nil
}

// takeError converts and frees an error message from the C++ side.
func takeError(cerr *C.char) error {
	if cerr == nil {
		return errors.New("opencv: unknown error")
	}
	defer C.ituiFree(unsafe.Pointer(cerr))
	return errors.New(C.GoString(cerr))
}
