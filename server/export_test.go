/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package server

import (
	"context"
	"time"
)

// Purge runs one pass of the purge loop at now, so that tests choose the time.
func (s *Server) Purge(ctx context.Context, now time.Time) { s.purge(ctx, now) }
