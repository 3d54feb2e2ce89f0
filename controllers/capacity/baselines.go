/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package capacity

// Operation is a kind of request whose cost differs from the others'. Its value is the
// field name under capacity.operationMix.
type Operation string

const (
	// TokenGeneration is POST /api/v1/oauth/token: signing a JWT, and for the code and
	// refresh grants a database round trip.
	TokenGeneration Operation = "tokenGeneration"
	// TokenValidation is introspection, userinfo and revocation.
	TokenValidation Operation = "tokenValidation"
	// Authorization is the authorization endpoint with its login and consent pages.
	Authorization Operation = "authorization"
	// Discovery is the discovery documents and the JWKS, served from memory.
	Discovery Operation = "discovery"
)

// Operations lists every operation in the order used in messages and status.
func Operations() []Operation {
	return []Operation{TokenGeneration, TokenValidation, Authorization, Discovery}
}

// Mix is each operation's share of the requests. The shares add up to 1.
type Mix map[Operation]float64

// DefaultMix is the performance guide's default operation mix.
func DefaultMix() Mix {
	return Mix{TokenGeneration: 0.3, TokenValidation: 0.4, Authorization: 0.2, Discovery: 0.1}
}

// Baselines is the throughput of each operation alone, in requests per second. The planner's
// baselines are per CPU core; the performance guide's are per (8-core) server.
type Baselines map[Operation]float64

// DefaultBaselines are the requests per second one CPU core of the Authly server sustains
// for each operation alone: requests per CPU-second of the server process measured by the
// load tool (bench/results/REPORT.md: a replica planned for one core, so GOMAXPROCS=1, on
// the 2-core benchmark machine, all concurrency levels together), times 0.7, rounded down
// to 500, and the lowest of the recent reports, whose machine ran at different speeds
// (hello-world at 34,000 to 43,000 per CPU-second). Postgres runs elsewhere and is not
// counted here. Token generation is the refresh grant (a database write and an ES256
// signature: dearer than client_credentials), token validation is introspection,
// authorization is the authorize endpoint up to the login page. A replica's throughput is
// these times its CPU in cores. The 0.7 leaves room for what the report does not see: the
// report keeps the best of two passes on a shared machine whose speed drifts by a third,
// and a pod shares its node.
func DefaultBaselines() Baselines {
	return Baselines{
		TokenGeneration: 5500,
		TokenValidation: 14500,
		Authorization:   8500,
		Discovery:       24500,
	}
}

// guideBaselines are the performance guide's BASELINE_METRICS: requests per second of one 8-core server,
// as the performance guide's calculator assumes them. Only SeedPlan uses them.
func guideBaselines() Baselines {
	return Baselines{
		TokenGeneration: 12500,
		TokenValidation: 18400,
		Authorization:   8900,
		Discovery:       42000,
	}
}
