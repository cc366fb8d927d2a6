package pgtest

import "github.com/farmwatch/farmwatch/internal/pgcluster"

// The names the tests of this package use for pgcluster's parts.
var (
	errNoBinaries = pgcluster.ErrNoBinaries
	findBin       = pgcluster.FindBin
	removeStale   = pgcluster.RemoveStale
)

const dirPrefix = pgcluster.DirPrefix

func (c *Cluster) dataDir() string { return c.DataDir() }
