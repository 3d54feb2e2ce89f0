/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/authly-dev/authly-operator/server/store"
)

func TestConsents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	web := mustClient(t, s, "web")
	cli := mustClient(t, s, "cli")
	alice := mustUser(t, s, "alice")

	got, err := s.ConsentedScopes(ctx, alice.ID, web.ID)
	wantErr(t, "ConsentedScopes(none)", err, nil)
	if len(got) != 0 {
		t.Errorf("consent before any grant: %v", got)
	}

	steps := []struct {
		grant []string
		want  []string
	}{
		{[]string{"profile", "openid", "openid"}, []string{"openid", "profile"}},
		{[]string{"email"}, []string{"email", "openid", "profile"}},
		{[]string{"openid"}, []string{"email", "openid", "profile"}},
		{nil, []string{"email", "openid", "profile"}},
	}
	for _, st := range steps {
		wantErr(t, "GrantConsent", s.GrantConsent(ctx, alice.ID, web.ID, st.grant), nil)
		got, err := s.ConsentedScopes(ctx, alice.ID, web.ID)
		wantErr(t, "ConsentedScopes", err, nil)
		diff(t, "consented scopes after granting "+fmt.Sprint(st.grant), got, st.want)
	}
	got, _ = s.ConsentedScopes(ctx, alice.ID, cli.ID)
	if len(got) != 0 {
		t.Errorf("a grant to web shows for cli: %v", got)
	}
	got, err = s.ConsentedScopes(ctx, "nope", web.ID)
	if err != nil || len(got) != 0 {
		t.Errorf("ConsentedScopes(malformed user) = %v, %v", got, err)
	}
	wantErr(t, "GrantConsent(unknown client)", s.GrantConsent(ctx, alice.ID, "nope", []string{"openid"}), store.ErrNotFound)
	wantErr(t, "GrantConsent(unknown user)", s.GrantConsent(ctx, "00000000-0000-0000-0000-000000000000", web.ID, []string{"openid"}), store.ErrNotFound)
}
