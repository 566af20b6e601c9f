package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/libp2p/go-libp2p/core/pnet"

	"github.com/plexus-p2p/plexus/swarmkey"
)

// This file holds the repo's swarm key (<repo>/swarm.key): the pre-shared
// key of a libp2p private network, in Kubo's file format. As in Kubo, its
// presence is what makes a node private.

// HasSwarmKey reports whether the repo has a swarm.key file.
func (r Repo) HasSwarmKey() bool {
	_, err := os.Stat(r.File(SwarmKeyFile))
	return err == nil
}

// SwarmKey loads the repo's swarm key. It returns nil and no error when the
// repo has none (the node is public), and an error naming the problem when
// the file is unreadable or malformed: a node must never fall back to the
// public network because its key file is broken.
func (r Repo) SwarmKey() (pnet.PSK, error) {
	path := r.File(SwarmKeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read swarm key: %w", err)
	}
	k, err := swarmkey.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (fix or remove the file: without it the node is not private)", path, err)
	}
	return k, nil
}

// ReadSwarmKeyFile reads and validates a swarm key file from path, or from
// stdin when path is "-".
func ReadSwarmKeyFile(path string, stdin io.Reader) (pnet.PSK, error) {
	var data []byte
	var err error
	name := path
	if path == "-" {
		name = "stdin"
		data, err = io.ReadAll(io.LimitReader(stdin, swarmkey.MaxFileSize+1))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read swarm key from %s: %w", name, err)
	}
	k, err := swarmkey.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return k, nil
}

// ImportSwarmKey makes k the repo's swarm key (0600). Importing the key the
// repo already has changes nothing (changed is false); replacing another key
// needs force, since the node then leaves its private network.
func (r Repo) ImportSwarmKey(k pnet.PSK, force bool) (changed bool, err error) {
	if len(k) != swarmkey.Size {
		return false, fmt.Errorf("swarm key: %d bytes, want %d", len(k), swarmkey.Size)
	}
	if old, err := r.SwarmKey(); err == nil && old != nil && bytes.Equal(old, k) {
		return false, nil
	}
	if !force {
		if err := r.refuseSwarmKeyReplace(); err != nil {
			return false, err
		}
	}
	if err := os.MkdirAll(r.Path, 0o700); err != nil {
		return false, fmt.Errorf("create repo %s: %w", r.Path, err)
	}
	return true, r.writeSwarmKey(k)
}

// refuseSwarmKeyReplace returns an error when the repo has a swarm key file.
func (r Repo) refuseSwarmKeyReplace() error {
	if !r.HasSwarmKey() {
		return nil
	}
	old, err := r.SwarmKey()
	if err != nil {
		return fmt.Errorf("repo %s already has a swarm key file that cannot be used (%w); use --force to replace it", r.Path, err)
	}
	return fmt.Errorf("repo %s already has a swarm key (fingerprint %s); use --force to replace it (the node then leaves that private network)",
		r.Path, swarmkey.Fingerprint(old))
}

func (r Repo) writeSwarmKey(k pnet.PSK) error {
	return writeFileAtomic(r.File(SwarmKeyFile), swarmkey.Encode(k), 0o600)
}
