package server

import (
	"context"
	"time"
)

// Purge runs one pass of the purge loop at now, so that tests choose the time.
func (s *Server) Purge(ctx context.Context, now time.Time) { s.purge(ctx, now) }
