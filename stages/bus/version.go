package bus

import (
	"fmt"

	zmq "github.com/pebbe/zmq4"
)

// Version returns the version of the libzmq this binary is linked with.
func Version() string {
	major, minor, patch := zmq.Version()
	return fmt.Sprintf("%d.%d.%d", major, minor, patch)
}
