package bus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	zmq "github.com/pebbe/zmq4"
)

// Key file names: NAME.key holds the secret key, NAME.pub the public key,
// each as one line of Z85 (40 characters) after optional "#" comments.
const (
	SecretKeyExt = ".key"
	PublicKeyExt = ".pub"
)

// ErrBadKey is wrapped by every error about a key file's contents.
var ErrBadKey = errors.New("bus: bad CURVE key")

// Keypair is a CURVE keypair in Z85 text.
type Keypair struct {
	Public, Secret string
}

// NewKeypair generates a keypair. It fails when libzmq was built without
// CURVE (libsodium).
func NewKeypair() (Keypair, error) {
	if !zmq.HasCurve() {
		return Keypair{}, errors.New("bus: this libzmq has no CURVE support (built without libsodium)")
	}
	pub, sec, err := zmq.NewCurveKeypair()
	if err != nil {
		return Keypair{}, fmt.Errorf("bus: new keypair: %w", err)
	}
	return Keypair{Public: pub, Secret: sec}, nil
}

// WriteKeypair generates a keypair and writes it as dir/NAME.key (the
// secret key, mode 0600) and dir/NAME.pub (mode 0644). It refuses to
// overwrite either file. It returns the two paths.
func WriteKeypair(dir, name string) (secret, public string, err error) {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return "", "", fmt.Errorf("bus: key name %q: want a plain file name, without / or a leading dot", name)
	}
	kp, err := NewKeypair()
	if err != nil {
		return "", "", err
	}
	secret = filepath.Join(dir, name+SecretKeyExt)
	public = filepath.Join(dir, name+PublicKeyExt)
	for _, p := range []string{secret, public} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("bus: %s exists: not overwriting a key", p)
		}
	}
	sec := fmt.Sprintf("# imaging-tui CURVE secret key %q: keep it private; its public key is %s\n%s\n", name, filepath.Base(public), kp.Secret)
	if err := writeNew(secret, sec, 0o600); err != nil {
		return "", "", err
	}
	pub := fmt.Sprintf("# imaging-tui CURVE public key %q: give it to the peers that must accept it\n%s\n", name, kp.Public)
	if err := writeNew(public, pub, 0o644); err != nil {
		os.Remove(secret) // a secret without its public key is of no use
		return "", "", err
	}
	return secret, public, nil
}

// writeNew creates path, which must not exist, with mode perm (regardless
// of the umask, which could only widen nothing but could narrow the public
// key's) and writes text to it.
func writeNew(path, text string, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("bus: write key: %w", err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("bus: write key: %w", err)
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("bus: write key: %w", err)
	}
	return nil
}

// ReadKeypair reads a secret key file and derives its public key. A secret
// key readable by others is refused, as ssh refuses an open private key.
func ReadKeypair(path string) (Keypair, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Keypair{}, fmt.Errorf("bus: secret key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return Keypair{}, fmt.Errorf("%w: %s is readable by others (mode %v): chmod 600 it", ErrBadKey, path, fi.Mode().Perm())
	}
	keys, err := readKeys(path)
	if err != nil {
		return Keypair{}, err
	}
	if len(keys) != 1 {
		return Keypair{}, fmt.Errorf("%w: %s holds %d keys, want 1", ErrBadKey, path, len(keys))
	}
	pub, err := zmq.AuthCurvePublic(keys[0])
	if err != nil {
		return Keypair{}, fmt.Errorf("%w: %s: derive public key: %v", ErrBadKey, path, err)
	}
	return Keypair{Public: pub, Secret: keys[0]}, nil
}

// ReadPublicKey reads a file holding exactly one public key.
func ReadPublicKey(path string) (string, error) {
	keys, err := readKeys(path)
	if err != nil {
		return "", err
	}
	if len(keys) != 1 {
		return "", fmt.Errorf("%w: %s holds %d keys, want 1", ErrBadKey, path, len(keys))
	}
	return keys[0], nil
}

// ReadPublicKeys reads the public keys in path: a file of keys, one a line,
// or a directory, whose *.pub files are read. It fails if it finds none.
func ReadPublicKeys(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("bus: public keys: %w", err)
	}
	files := []string{path}
	if fi.IsDir() {
		if files, err = filepath.Glob(filepath.Join(path, "*"+PublicKeyExt)); err != nil {
			return nil, fmt.Errorf("bus: public keys: %w", err)
		}
	}
	var keys []string
	for _, f := range files {
		k, err := readKeys(f)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k...)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no public keys in %s", ErrBadKey, path)
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// readKeys returns the Z85 keys of a key file, checking each.
func readKeys(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bus: key file: %w", err)
	}
	var keys []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !isZ85Key(line) {
			return nil, fmt.Errorf("%w: %s:%d: not a 40-character Z85 key", ErrBadKey, path, i+1)
		}
		keys = append(keys, line)
	}
	return keys, nil
}

// z85Chars is the Z85 alphabet (ZeroMQ RFC 32).
const z85Chars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

// isZ85Key reports whether s is a 32-byte key in Z85: 40 characters of the
// alphabet, each group of 5 at most 2^32-1.
func isZ85Key(s string) bool {
	if len(s) != 40 {
		return false
	}
	for g := 0; g < 40; g += 5 {
		v := uint64(0)
		for _, c := range s[g : g+5] {
			i := strings.IndexRune(z85Chars, c)
			if i < 0 {
				return false
			}
			v = v*85 + uint64(i)
		}
		if v > 1<<32-1 {
			return false
		}
	}
	return true
}
