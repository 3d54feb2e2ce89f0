/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

// Package controllers holds the operator's reconcilers, one per kind: AuthServer (the
// server's Deployment, Service, Secrets and the rest it owns, with capacity planning),
// and OAuthClient and Scope, which register their entry in the AuthServer's database
// through server/store.
package controllers
