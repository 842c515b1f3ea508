package stages

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/imaging-tui/imaging-tui/stages/bus"
	"github.com/imaging-tui/imaging-tui/stages/stage"
)

// keyFlags are the CURVE flags every stage has (bus.Security says what
// they do to each socket), as given.
type keyFlags struct {
	files      bus.KeyFiles
	serverKeys []string // --server-key values: FILE or PORT=FILE
}

// register defines the flags on f.
func (k *keyFlags) register(f *flag.FlagSet) {
	f.StringVar(&k.files.Key, "key", "", "CURVE secret key `FILE` (from 'imaging-tui keys'): tcp endpoints this stage binds accept only --peers")
	f.StringVar(&k.files.Peers, "peers", "", "public keys allowed to connect to this stage's tcp binds: a `FILE` of keys, one a line, or a directory of *.pub")
	f.Func("server-key", "public key `FILE` of the server a tcp connect reaches (turns CURVE on; needs --key); PORT=FILE for one port's endpoints only, e.g. status=sup.pub; repeatable",
		func(v string) error { k.serverKeys = append(k.serverKeys, v); return nil })
	f.BoolVar(&k.files.Insecure, "insecure", false, "allow binding tcp beyond loopback (e.g. 0.0.0.0) without --key: unauthenticated and unencrypted; logs a warning")
}

// resolve turns the --server-key values into k.files' ServerKey and
// ServerKeys: a PORT=FILE value names the port's endpoints, found in
// values (port flag → its value, the status port included).
func (k *keyFlags) resolve(spec stage.Spec, values map[string]string) (bus.KeyFiles, error) {
	files := k.files
	ports := append([]stage.Port{stage.StatusPort}, spec.Ports...)
	for _, v := range k.serverKeys {
		name, file, ok := strings.Cut(v, "=")
		if !ok || !hasPort(ports, name) {
			if files.ServerKey != "" {
				return bus.KeyFiles{}, errors.New("--server-key: one FILE for every port; give others as PORT=FILE")
			}
			files.ServerKey = v
			continue
		}
		eps, err := bus.ParseEndpoints(values[name], false)
		if err != nil {
			return bus.KeyFiles{}, fmt.Errorf("--server-key %s: %w", v, err)
		}
		if files.ServerKeys == nil {
			files.ServerKeys = map[string]string{}
		}
		for _, ep := range eps {
			files.ServerKeys[ep.Addr] = file
		}
	}
	return files, nil
}

func hasPort(ports []stage.Port, flag string) bool {
	for _, p := range ports {
		if p.Flag == flag {
			return true
		}
	}
	return false
}

// KeysMain runs `imaging-tui keys [--out DIR] NAME`: it writes a new CURVE
// keypair as DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub, and never
// overwrites a key.
func KeysMain(args []string, stdout, stderr io.Writer) error {
	f := flag.NewFlagSet("imaging-tui keys", flag.ContinueOnError)
	f.SetOutput(stderr)
	out := f.String("out", ".", "`DIR` to write the key files in")
	f.Usage = func() {
		fmt.Fprint(f.Output(), `Usage: imaging-tui keys [--out DIR] NAME

Creates a CURVE keypair for ZeroMQ links: DIR/NAME.key, the secret key
(mode 0600: give it to one stage or supervisor with --key), and DIR/NAME.pub,
the public key (list it in its peers' --peers; give it as --server-key to
those that connect to it). Existing files are never overwritten.

Flags:
`)
		f.PrintDefaults()
	}
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return stage.ErrUsage
	}
	if f.NArg() != 1 {
		return usage(f, "want one NAME, got %d arguments", f.NArg())
	}
	secret, public, err := bus.WriteKeypair(*out, f.Arg(0))
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	fmt.Fprintf(stdout, "secret key: %s\npublic key: %s\n", secret, public)
	return nil
}
