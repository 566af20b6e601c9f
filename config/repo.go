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

// Errors of the repo's state, for errors.Is.
var (
	// ErrNotInitialized is returned when a repo has no config or identity yet.
	ErrNotInitialized = errors.New("repo is not initialized")
	// ErrIdentityMissing is returned when a repo has a config but no identity:
	// making a new one silently would change the node's peer ID.
	ErrIdentityMissing = errors.New("the identity (" + KeyFile + ") is missing")
	// ErrLocked is returned when a daemon holds the repo's lock.
	ErrLocked = errors.New("another plexus daemon is using it")
)

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
func (r Repo) Initialized() bool { return r.has(KeyFile) }

// has reports whether the repo holds the file name.
func (r Repo) has(name string) bool {
	_, err := os.Stat(r.File(name))
	return err == nil
}

// InitOptions control Init.
type InitOptions struct {
	// Profile is written into the config file; "" or "default" writes the
	// defaults. A profile given only when the daemon starts is applied on
	// top of the file and never written into it.
	Profile string
	// Force replaces what exists: with neither NewIdentity nor ConfigOnly,
	// the identity, the config and the API token.
	Force bool
	// NewIdentity makes a new identity and keeps an existing config and API
	// token (creating them if missing); an existing identity is replaced
	// only with Force.
	NewIdentity bool
	// ConfigOnly writes the config file and touches nothing else; an
	// existing config is replaced only with Force.
	ConfigOnly bool
	// Private creates a swarm key (SwarmKeyFile, 0600): the node joins only
	// nodes that have the same key. An existing key is replaced only with
	// Force.
	Private bool
}

// Init creates the repo: an Ed25519 identity (0600), config.toml with every
// default written out, an API token (0600) and, with opts.Private, a swarm
// key (0600). It never replaces an
// existing identity or config unless opts.Force is set, and it refuses while
// a daemon holds the repo's lock. It returns the repo's identity, or nil
// when ConfigOnly leaves a repo without one.
func (r Repo) Init(opts InitOptions) (crypto.PrivKey, error) {
	if opts.NewIdentity && opts.ConfigOnly {
		return nil, errors.New("init: --new-identity and --config-only exclude each other")
	}
	cfg := Default()
	if err := cfg.ApplyProfile(opts.Profile); err != nil {
		return nil, err
	}
	hasKey, hasCfg := r.has(KeyFile), r.has(ConfigFile)
	writeKey, writeCfg, writeToken := true, true, true
	switch {
	case opts.ConfigOnly:
		writeKey, writeToken = false, false
		if hasCfg && !opts.Force {
			return nil, fmt.Errorf("repo %s already has a config (%s); add --force to replace it with the defaults", r.Path, ConfigFile)
		}
	case opts.NewIdentity:
		writeCfg, writeToken = !hasCfg, !r.has(TokenFile)
		if hasKey && !opts.Force {
			return nil, fmt.Errorf("repo %s already has an identity (%s); add --force to replace it", r.Path, KeyFile)
		}
	case opts.Force:
	case hasKey:
		return nil, fmt.Errorf("repo %s already has an identity (%s); use --force to replace it", r.Path, KeyFile)
	case hasCfg:
		return nil, fmt.Errorf("repo %s has a config (%s) but no identity: run with --new-identity to make one and keep the config, or --force to replace both", r.Path, ConfigFile)
	}
	if opts.Private && !opts.Force {
		if err := r.refuseSwarmKeyReplace(); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(r.Path, 0o700); err != nil {
		return nil, fmt.Errorf("create repo %s: %w", r.Path, err)
	}
	unlock, err := r.Lock()
	if err != nil {
		return nil, fmt.Errorf("init: %w (stop it first: plexus --repo %s shutdown)", err, r.Path)
	}
	defer unlock()
	if writeCfg {
		if err := Save(r.File(ConfigFile), cfg); err != nil {
			return nil, err
		}
	}
	if writeToken {
		if err := writeFileAtomic(r.File(TokenFile), []byte(newToken()+"\n"), 0o600); err != nil {
			return nil, err
		}
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
	if !writeKey {
		if !hasKey {
			return nil, nil
		}
		return r.Key()
	}
	sk, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate identity: %w", err)
	}
	raw, err := crypto.MarshalPrivateKey(sk)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(r.File(KeyFile), raw, 0o600); err != nil {
		return nil, err
	}
	return sk, nil
}

// Prepared says what Prepare created.
type Prepared int

// What Prepare created.
const (
	PreparedNothing Prepared = iota // the repo was complete
	PreparedRepo                    // a new repo: identity, config and token
	PreparedConfig                  // a default config next to the existing identity
)

// Prepare readies the repo for a daemon. A repo with neither identity nor
// config is initialised with opts (the daemon's first run); a repo with an
// identity but no config gets a config written with opts.Profile, the
// identity untouched; a repo with a config but no identity is refused
// (ErrIdentityMissing), since a new identity would change the node's peer ID
// without anyone asking. An existing file is never replaced.
func (r Repo) Prepare(opts InitOptions) (Prepared, error) {
	hasKey, hasCfg := r.has(KeyFile), r.has(ConfigFile)
	switch {
	case hasKey && hasCfg:
		return PreparedNothing, nil
	case hasKey:
		_, err := r.Init(InitOptions{Profile: opts.Profile, ConfigOnly: true})
		return PreparedConfig, err
	case hasCfg:
		return PreparedNothing, fmt.Errorf("repo %s: %w but %s exists: restore %s from a backup to keep the node's peer ID, or run \"plexus --repo %s init --new-identity\" to make a new one (the config is kept)",
			r.Path, ErrIdentityMissing, ConfigFile, KeyFile, r.Path)
	}
	_, err := r.Init(InitOptions{Profile: opts.Profile})
	return PreparedRepo, err
}

// Config loads and validates the repo's config file.
func (r Repo) Config() (Config, error) {
	if !r.has(ConfigFile) {
		if r.has(KeyFile) {
			return Config{}, fmt.Errorf("%s has an identity but no %s: run \"plexus --repo %s init --config-only\" to write the defaults (starting the daemon does too)", r.Path, ConfigFile, r.Path)
		}
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
			return nil, fmt.Errorf("repo %s is locked: %w", r.Path, ErrLocked)
		}
		return nil, fmt.Errorf("lock repo %s: %w", r.Path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// privateFiles are the repo files only the owner may read.
var privateFiles = []string{KeyFile, TokenFile, SwarmKeyFile}

// LoosePermissions returns one warning for each private file (the identity,
// the API token and the swarm key) that other users may read or write,
// naming the fix.
func (r Repo) LoosePermissions() []string {
	var warns []string
	for _, name := range privateFiles {
		st, err := os.Stat(r.File(name))
		if err != nil || st.Mode().Perm()&0o077 == 0 {
			continue
		}
		warns = append(warns, fmt.Sprintf("%s has mode %04o, so other users can read it: run chmod 600 %s",
			r.File(name), st.Mode().Perm(), r.File(name)))
	}
	return warns
}

// Restore writes content to the repo file name (mode 0600) if the file is
// missing, and reports whether it did. A running daemon uses it to put back
// the files the CLI finds it by (the API address and token) when they are
// deleted under it.
func (r Repo) Restore(name, content string) (bool, error) {
	if _, err := os.Stat(r.File(name)); !errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return true, writeFileAtomic(r.File(name), []byte(content+"\n"), 0o600)
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
