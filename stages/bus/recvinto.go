package bus

/*
#cgo pkg-config: libzmq
#include <zmq.h>
#include <string.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"syscall"
	"unsafe"

	zmq "github.com/pebbe/zmq4"
)

// recvInto receives one message part on sock into buf's memory, growing it
// only when the part does not fit, and reports whether more parts follow.
//
// zmq4's RecvBytes returns each message in a new slice: a Go allocation
// of the message's size, zeroed and then overwritten, megabytes a frame,
// which the collector hands back to the kernel and the next message faults
// in again. A receiver that is done with a message before it takes the
// next one (the logger) or recycles its buffers (the extractor) copies
// into memory it already has instead.
func recvInto(sock *zmq.Socket, buf []byte, flags zmq.Flag) (msg []byte, more bool, err error) {
	soc, err := socketHandle(sock)
	if err != nil {
		return buf[:0], false, err
	}
	var m C.zmq_msg_t // holds only C pointers; zmq does not keep its address
	C.zmq_msg_init(&m)
	defer C.zmq_msg_close(&m)
	var n C.int
	for {
		n, err = C.zmq_msg_recv(&m, soc, C.int(flags))
		if n >= 0 || !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if n < 0 {
		return buf[:0], false, zmq.AsErrno(err)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if n > 0 {
		C.memcpy(unsafe.Pointer(&buf[0]), C.zmq_msg_data(&m), C.size_t(n))
	}
	return buf, C.zmq_msg_more(&m) != 0, nil
}

// socketHandle returns the libzmq socket behind sock. zmq4 does not export
// it; the field is read by reflection, guarded so that another zmq4 version
// fails with an error, not a crash (TestRecvInto).
func socketHandle(sock *zmq.Socket) (unsafe.Pointer, error) {
	v := reflect.ValueOf(sock)
	if sock == nil || v.Elem().Kind() != reflect.Struct {
		return nil, errors.New("bus: no socket")
	}
	f := v.Elem().FieldByName("soc")
	if !f.IsValid() || f.Kind() != reflect.UnsafePointer {
		return nil, fmt.Errorf("bus: this zmq4 version's Socket has no handle to receive into a buffer")
	}
	p := f.UnsafePointer()
	if p == nil {
		return nil, ErrClosed
	}
	return p, nil
}
