/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import "context"

// acquireSigningSlot waits, in arrival order, for one of the signing slots (GOMAXPROCS of
// them). An RS256 signature takes about a millisecond of CPU; under saturation, requests
// racing for the cores would otherwise be served in no particular order and the tail
// latency would grow far beyond the mean. Release with p.signing.Release.
func (p *Provider) acquireSigningSlot(ctx context.Context) error {
	if err := p.signing.Acquire(ctx); err != nil {
		return wrapError(CodeTemporarilyUnavailable, "the request was cancelled while waiting to sign the token", err)
	}
	return nil
}
