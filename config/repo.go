package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/plexus-p2p/plexus/swarmkey"
)

// Files inside a repo directory.
const (
	ConfigFile   = "config.toml"
	KeyFile      = "identity.key" // libp2p-marshalled Ed25519 private key, mode 0600
	TokenFile    = "api.token"    // bearer token of the HTTP API, mode 0600
	APIAddrFile  = "api"          // host:port the running daemon's API is bound to
	DatastoreDir = "datastore"    // LevelDB
	LockFile     = "repo.lock"
	SwarmKeyFile = "swarm.key" // pre-shared key of a private network (Kubo's format), mode 0600; its presence makes the node private
)

// ErrNotInitialized is returned when a repo has no config or identity yet.
var ErrNotInitialized = errors.New("repo is not initialized")

// RepoPath resolves the repo directory: flag, then $PLEXUS_PATH, then ~/.plexus.
func RepoPath(flag string) (string, error) {
	if flag != "" {
		return filepath.Abs(flag)
	}
	if p := os.Getenv("PLEXUS_PATH"); p != "" {
		return filepath.Abs(p)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory for the default repo (set PLEXUS_PATH or --repo): %w", err)
	}
	return filepath.Join(home, ".plexus"), nil
}

// Repo is a node's directory on disk.
type Repo struct {
	Path string
}

// File returns the path of a file inside the repo.
func (r Repo) File(name string) string { return filepath.Join(r.Path, name) }

// Initialized reports whether the repo has an identity.
func (r Repo) Initialized() bool {
	_, err := os.Stat(r.File(KeyFile))
	return err == nil
}

// InitOptions control Init.
type InitOptions struct {
	Profile string // config profile; "" or "default"
	Force   bool   // replace an existing identity (and swarm key, with Private)
	Private bool   // create a swarm key: the node joins only nodes that have the same key
}

// Init creates the repo: an Ed25519 identity (0600), config.toml with every
// default written out, an API token (0600) and, with opts.Private, a new
// swarm key (0600). It refuses to replace an existing identity unless
// opts.Force is set.
func (r Repo) Init(opts InitOptions) (crypto.PrivKey, error) {
	if r.Initialized() && !opts.Force {
		return nil, fmt.Errorf("repo %s already has an identity (%s); use --force to replace it", r.Path, KeyFile)
	}
	if opts.Private && !opts.Force {
		if err := r.refuseSwarmKeyReplace(); err != nil {
			return nil, err
		}
	}
	cfg := Default()
	if err := cfg.ApplyProfile(opts.Profile); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.Path, 0o700); err != nil {
		return nil, fmt.Errorf("create repo %s: %w", r.Path, err)
	}
	sk, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate identity: %w", err)
	}
	raw, err := crypto.MarshalPrivateKey(sk)
	if err != nil {
		return nil, err
	}
	if err := Save(r.File(ConfigFile), cfg); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(r.File(TokenFile), []byte(newToken()+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(r.File(KeyFile), raw, 0o600); err != nil {
		return nil, err
	}
	if opts.Private {
		k, err := swarmkey.Generate()
		if err != nil {
			return nil, err
		}
		if err := r.writeSwarmKey(k); err != nil {
			return nil, err
		}
	}
	return sk, nil
}

// Config loads and validates the repo's config file.
func (r Repo) Config() (Config, error) {
	if _, err := os.Stat(r.File(ConfigFile)); errors.Is(err, os.ErrNotExist) {
		return Config{}, fmt.Errorf("%s: %w (run \"plexus init\")", r.Path, ErrNotInitialized)
	}
	return Load(r.File(ConfigFile))
}

// Key loads the identity key.
func (r Repo) Key() (crypto.PrivKey, error) {
	raw, err := os.ReadFile(r.File(KeyFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (run \"plexus init\")", r.Path, ErrNotInitialized)
	}
	if err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	sk, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("identity %s is corrupt: %w", r.File(KeyFile), err)
	}
	return sk, nil
}

// Token returns the API token, creating one (0600) if the repo has none.
func (r Repo) Token() (string, error) {
	b, err := os.ReadFile(r.File(TokenFile))
	if errors.Is(err, os.ErrNotExist) {
		tok := newToken()
		return tok, writeFileAtomic(r.File(TokenFile), []byte(tok+"\n"), 0o600)
	}
	if err != nil {
		return "", fmt.Errorf("read API token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("API token file %s is empty", r.File(TokenFile))
	}
	return tok, nil
}

// Lock takes the repo's exclusive lock so that only one daemon uses it. The
// returned function releases it.
func (r Repo) Lock() (unlock func(), err error) {
	f, err := os.OpenFile(r.File(LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("repo %s is locked: another plexus daemon is using it", r.Path)
		}
		return nil, fmt.Errorf("lock repo %s: %w", r.Path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// WriteAPIAddr records the address the API is bound to.
func (r Repo) WriteAPIAddr(addr string) error {
	return writeFileAtomic(r.File(APIAddrFile), []byte(addr+"\n"), 0o600)
}

// RemoveAPIAddr removes the API address file on shutdown.
func (r Repo) RemoveAPIAddr() { os.Remove(r.File(APIAddrFile)) }

// APIAddr reads the running daemon's API address.
func (r Repo) APIAddr() (string, error) {
	b, err := os.ReadFile(r.File(APIAddrFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("no daemon is running on repo %s (no %s file); start one with \"plexus daemon\"", r.Path, APIAddrFile)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// writeFileAtomic writes data to a temporary file, syncs it and renames it
// over path, so a crash never leaves a half-written file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
