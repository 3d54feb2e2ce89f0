-- The first schema of the Authly server. Secrets (client secrets, codes, refresh tokens,
-- session cookies) are stored only as SHA-256 hashes. Optional timestamps are NULL when
-- unset. gen_random_uuid() is built into PostgreSQL 13 and later.

CREATE TABLE clients (
    client_id                    text PRIMARY KEY,
    name                         text NOT NULL DEFAULT '',
    client_type                  text NOT NULL CHECK (client_type IN ('confidential', 'public')),
    redirect_uris                text[] NOT NULL DEFAULT '{}',
    post_logout_redirect_uris    text[] NOT NULL DEFAULT '{}',
    grant_types                  text[] NOT NULL DEFAULT '{}',
    response_types               text[] NOT NULL DEFAULT '{}',
    scopes                       text[] NOT NULL DEFAULT '{}',
    token_endpoint_auth_method   text NOT NULL DEFAULT '',
    first_party                  boolean NOT NULL DEFAULT false,
    id_token_signed_response_alg text NOT NULL DEFAULT '',
    secret_hash                  bytea,
    previous_secret_hash         bytea,
    previous_secret_expires_at   timestamptz,
    managed_by                   text NOT NULL DEFAULT '',
    created_at                   timestamptz NOT NULL DEFAULT now(),
    updated_at                   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE scopes (
    name        text PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    is_default  boolean NOT NULL DEFAULT false,
    managed_by  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    user_id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username       text NOT NULL CHECK (username <> ''),
    email          text NOT NULL DEFAULT '',
    email_verified boolean NOT NULL DEFAULT false,
    name           text NOT NULL DEFAULT '',
    given_name     text NOT NULL DEFAULT '',
    family_name    text NOT NULL DEFAULT '',
    password_hash  text NOT NULL DEFAULT '',
    disabled       boolean NOT NULL DEFAULT false,
    admin          boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- Logins are case-insensitive: these indexes both enforce uniqueness and serve
-- GetUserByLogin and the username-ordered listing.
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email)) WHERE email <> '';

CREATE TABLE authorization_codes (
    code_hash         bytea PRIMARY KEY,
    client_id         text NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id           uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    redirect_uri      text NOT NULL,
    scopes            text[] NOT NULL DEFAULT '{}',
    nonce             text NOT NULL DEFAULT '',
    code_challenge    text NOT NULL DEFAULT '',
    auth_time         timestamptz,
    expires_at        timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    -- Set by the one redemption, so that a second one can revoke what it issued.
    used_at           timestamptz,
    access_jti        text NOT NULL DEFAULT '',
    access_expires_at timestamptz,
    refresh_family_id text NOT NULL DEFAULT ''
);
-- Foreign-key indexes keep the cascades from clients and users cheap; expires_at serves
-- the purge.
CREATE INDEX authorization_codes_client_id_idx ON authorization_codes (client_id);
CREATE INDEX authorization_codes_user_id_idx ON authorization_codes (user_id);
CREATE INDEX authorization_codes_expires_at_idx ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash        bytea PRIMARY KEY,
    family_id         text NOT NULL CHECK (family_id <> ''),
    parent_hash       bytea,
    client_id         text NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    -- NULL for tokens that act for no user.
    user_id           uuid REFERENCES users (user_id) ON DELETE CASCADE,
    scopes            text[] NOT NULL DEFAULT '{}',
    auth_time         timestamptz,
    access_jti        text NOT NULL DEFAULT '',
    access_expires_at timestamptz,
    expires_at        timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    used_at           timestamptz,
    revoked_at        timestamptz
);
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_client_id_idx ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

-- The access-token deny-list, kept until the tokens would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX revoked_tokens_expires_at_idx ON revoked_tokens (expires_at);

-- Access tokens of a client or user issued before not_before are revoked.
CREATE TABLE token_cutoffs (
    kind       text NOT NULL CHECK (kind IN ('client', 'user')),
    subject    text NOT NULL,
    not_before timestamptz NOT NULL,
    PRIMARY KEY (kind, subject)
);

CREATE TABLE signing_keys (
    kid          text PRIMARY KEY,
    alg          text NOT NULL,
    private_key  bytea NOT NULL,
    encrypted    boolean NOT NULL DEFAULT false,
    state        text NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    retire_after timestamptz
);
-- At most one active and one next key per algorithm: rotation relies on it, and a bug
-- that breaks it fails loudly instead of signing with an arbitrary key.
CREATE UNIQUE INDEX signing_keys_one_active_idx ON signing_keys (alg) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next_idx ON signing_keys (alg) WHERE state = 'next';

CREATE TABLE sessions (
    session_hash bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    auth_time    timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    user_agent   text NOT NULL DEFAULT '',
    remote_ip    text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE consents (
    user_id   uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    client_id text NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scopes    text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client_id_idx ON consents (client_id);

-- Failed logins, counted here so that every replica agrees on a lockout.
CREATE TABLE login_failures (
    username_key     text PRIMARY KEY CHECK (username_key = lower(username_key)),
    failures         integer NOT NULL,
    first_failure_at timestamptz NOT NULL,
    locked_until     timestamptz
);
CREATE INDEX login_failures_first_failure_at_idx ON login_failures (first_failure_at);
