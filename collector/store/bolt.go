package store

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Some features exist only for a store in a bbolt file: the file copy of a
// backup, scrubbing the file's free pages, its path and memory map, opening
// a file read-only and migrating an old one. On another backend they answer
// an error wrapping ErrNotBbolt, which says what to do instead.

// ErrNotBbolt is wrapped by the errors of the features that exist only for a
// store kept in a bbolt file.
var ErrNotBbolt = errors.New("the store is not a bbolt file")

// errBackupNotBbolt is Snapshot's answer on another backend.
var errBackupNotBbolt = fmt.Errorf("backup: %w: the collector copies only its own bbolt file; back up the database with its own tools (pg_dump, or base backups with write-ahead log archiving)", ErrNotBbolt)

// errScrubNotBbolt is ScrubFreePages' answer on another backend.
var errScrubNotBbolt = fmt.Errorf("scrub free pages: %w: not needed, the database manages its own free space (it reuses the space of deleted rows, and its vacuum reclaims it)", ErrNotBbolt)

// Path is the bbolt file, or "" when the store is on another backend.
func (s *Store) Path() string {
	if s.bolt == nil {
		return ""
	}
	return s.bolt.Path()
}

// DB exposes the bbolt handle for consistent backups and read-only tools;
// it is nil when the store is on another backend.
func (s *Store) DB() *bolt.DB { return s.bolt }
