package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/plexus-p2p/plexus/api/wire"
	"github.com/plexus-p2p/plexus/client"
	"github.com/plexus-p2p/plexus/daemon"
)

// accountsClient returns a client for the accounts routes. While a daemon
// runs on the repo, or when --api, $PLEXUS_API or $PLEXUS_TOKEN names one,
// it is the daemon's API (the daemon holds the datastore). Otherwise the
// repo's datastore is opened in this process under the repo lock, and the
// same routes are served in-process with the repo's api.token: accounts
// can be set up before the first start. done releases the repo.
func (g *globals) accountsClient() (c *client.Client, done func(), err error) {
	if g.api == "" && os.Getenv("PLEXUS_API") == "" && os.Getenv("PLEXUS_TOKEN") == "" {
		repo, err := g.openRepo()
		if err != nil {
			return nil, nil, err
		}
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		a, err := daemon.OpenAccounts(repo, log)
		if err == nil {
			return client.NewWithTransport("http://in-process", a.Token, a), func() { a.Close() }, nil
		}
		if !errors.Is(err, daemon.ErrDaemonRunning) {
			return nil, nil, err
		}
	}
	c, err = g.client()
	return c, func() {}, err
}

// callAccounts runs fn against accountsClient with the --timeout bound.
func callAccounts[T any](cmd *cobra.Command, g *globals, fn func(context.Context, *client.Client) (T, error)) (T, error) {
	var zero T
	c, done, err := g.accountsClient()
	if err != nil {
		return zero, err
	}
	defer done()
	ctx, cancel := g.ctx(cmd)
	defer cancel()
	v, err := fn(ctx, c)
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return zero, fmt.Errorf("timed out after %s (raise --timeout): %w", g.timeout, err)
	}
	return v, err
}

// readPassword reads a password: at a prompt on a terminal (asked twice,
// not echoed), otherwise the first line of standard input.
func readPassword(cmd *cobra.Command, who string) (string, error) {
	if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		ask := func(prompt string) (string, error) {
			fmt.Fprint(cmd.ErrOrStderr(), prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(cmd.ErrOrStderr())
			if err != nil {
				return "", fmt.Errorf("read password: %w", err)
			}
			return string(b), nil
		}
		pw, err := ask("Password for " + who + ": ")
		if err != nil {
			return "", err
		}
		again, err := ask("Again: ")
		if err != nil {
			return "", err
		}
		if pw != again {
			return "", errors.New("the two passwords differ: nothing changed")
		}
		return pw, nil
	}
	line, err := bufio.NewReader(io.LimitReader(cmd.InOrStdin(), 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password: type it at the prompt on a terminal, or give it as the first line of standard input")
	}
	return line, nil
}

// when formats a time for people.
func when(t time.Time) string { return t.Local().Format("2006-01-02 15:04") }

func newUsersCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage the API's user accounts (admin)",
		Long: `Manage the user accounts of the HTTP API: admins may call every route, viewers the read
routes. Passwords come from a prompt on a terminal (asked twice) or else from the first
line of standard input. While a daemon runs these go through its API with the repo's
api.token; without one they open the repo's datastore directly (under the repo lock).`,
	}
	var role string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readPassword(cmd, args[0])
			if err != nil {
				return err
			}
			u, err := callAccounts(cmd, g, func(ctx context.Context, c *client.Client) (wire.User, error) {
				return c.AddUser(ctx, args[0], pw, role)
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), u, func(w io.Writer) { fmt.Fprintf(w, "added user %s (%s)\n", u.Username, u.Role) })
		},
	}
	add.Flags().StringVar(&role, "role", "viewer", "admin (every route) or viewer (read routes)")
	cmd.AddCommand(add)
	cmd.AddCommand(&cobra.Command{
		Use:   "ls",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			us, err := callAccounts(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.User, error) { return c.Users(ctx) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), us, func(w io.Writer) {
				rows := make([][]string, len(us))
				for i, u := range us {
					rows[i] = []string{u.Username, u.Role, when(u.Created), when(u.Updated)}
				}
				table(w, []string{"USER", "ROLE", "CREATED", "UPDATED"}, rows)
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a user with its sessions and tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := callAccounts(cmd, g, func(ctx context.Context, c *client.Client) (wire.UserRef, error) {
				return c.DeleteUser(ctx, args[0])
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), ref, func(w io.Writer) {
				fmt.Fprintf(w, "deleted user %s; its sessions and tokens are revoked\n", ref.Username)
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password (revokes the user's sessions and tokens)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readPassword(cmd, args[0])
			if err != nil {
				return err
			}
			ref, err := callAccounts(cmd, g, func(ctx context.Context, c *client.Client) (wire.UserRef, error) {
				return c.SetPassword(ctx, args[0], pw)
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), ref, func(w io.Writer) {
				fmt.Fprintf(w, "password of %s changed; its sessions and tokens are revoked\n", ref.Username)
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "role NAME admin|viewer",
		Short: "Set a user's role",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := callAccounts(cmd, g, func(ctx context.Context, c *client.Client) (wire.User, error) {
				return c.SetRole(ctx, args[0], args[1])
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), u, func(w io.Writer) { fmt.Fprintf(w, "%s is now %s\n", u.Username, u.Role) })
		},
	})
	return cmd
}

func newTokensCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Manage users' API tokens",
		Long: `A user's API token authenticates a program as that user: "Authorization: Bearer <token>"
(or PLEXUS_TOKEN for the CLI). It has a role, never above its owner's, and an expiry; only its
hash is stored, so it is shown once, at creation. With the repo's api.token (the default)
name the owner with --user; with a user's token, tokens are that user's.`,
	}
	var user, role, name string
	var expires time.Duration
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and print it (once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if expires <= 0 {
				return fmt.Errorf("--expires %s: want a positive duration such as 720h (1m to 8760h)", expires)
			}
			nt, err := callAccounts(cmd, g, func(ctx context.Context, c *client.Client) (wire.NewToken, error) {
				return c.CreateToken(ctx, user, role, expires, name)
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), nt, func(w io.Writer) {
				fmt.Fprintln(w, nt.Secret)
				fmt.Fprintf(cmd.ErrOrStderr(), "token %s of %s (%s), expires %s: store it now, it is not shown again\n",
					nt.ID, nt.Username, nt.Role, when(nt.Expires))
			})
		},
	}
	create.Flags().StringVar(&user, "user", "", "the token's owner (default: the user the CLI's token belongs to; required with the repo's api.token)")
	create.Flags().StringVar(&role, "role", "", "admin or viewer (default: the owner's role, never above the caller's)")
	create.Flags().DurationVar(&expires, "expires", 720*time.Hour, "lifetime, 1m to 8760h")
	create.Flags().StringVar(&name, "name", "", "a label to recognise the token by")
	cmd.AddCommand(create)
	cmd.AddCommand(&cobra.Command{
		Use:   "ls",
		Short: "List API tokens (an admin's: everyone's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ts, err := callAccounts(cmd, g, func(ctx context.Context, c *client.Client) ([]wire.Token, error) { return c.Tokens(ctx) })
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), ts, func(w io.Writer) {
				rows := make([][]string, len(ts))
				for i, t := range ts {
					rows[i] = []string{t.ID, t.Username, t.Role, t.Name, when(t.Created), when(t.Expires)}
				}
				table(w, []string{"ID", "USER", "ROLE", "NAME", "CREATED", "EXPIRES"}, rows)
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := callAccounts(cmd, g, func(ctx context.Context, c *client.Client) (wire.Token, error) {
				return c.RevokeToken(ctx, args[0])
			})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), t, func(w io.Writer) { fmt.Fprintf(w, "revoked token %s of %s\n", t.ID, t.Username) })
		},
	})
	return cmd
}
