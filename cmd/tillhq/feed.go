package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// feedCmd is `tillhq feed renew`: the step after restoring HQ's store from a
// backup (docs/sync.md, "The position survives a restart").
func feedCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "feed", Short: "the change feed of card accounts that tills follow"}
	var dataDir, postgres string
	renew := &cobra.Command{
		Use:   "renew --data DIR | --postgres URL",
		Short: "give the change feed a new identity, after restoring HQ's store from a backup",
		Long: `Give the change feed a new identity, straight on the store: the bbolt file in --data
(tillhq stopped) or the PostgreSQL database at --postgres. Run it after restoring the
store from a backup into the same place (a copy of the bbolt file, a physical backup or
point-in-time recovery of the database, a standby promoted after losing commits): the
tills kept positions in the feed as it was before the restore, and would skip the
changes made since at those positions. With a new identity every till reads the feed
from the start at its next poll, once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (dataDir == "") == (postgres == "") {
				return errors.New("name the store: --data DIR (the bbolt file, tillhq stopped) or --postgres URL")
			}
			st, err := openStore(cmd.Context(), dataDir, postgres)
			if err != nil {
				return err
			}
			defer st.Close()
			id, err := st.RenewFeed(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "change feed: new identity %s; every till reads the feed from the start at its next poll\n", id)
			return nil
		},
	}
	renew.Flags().StringVar(&dataDir, "data", "", "HQ's data directory (the bbolt store; tillhq must be stopped)")
	renew.Flags().StringVar(&postgres, "postgres", "", "HQ's PostgreSQL database URL")
	cmd.AddCommand(renew)
	return cmd
}
