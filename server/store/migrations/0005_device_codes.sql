-- The device authorization grant (RFC 8628). A row is one device authorization request:
-- its device code (which the device polls with) and its user code (which the user types
-- on the verification page) are stored only as hashes. The row moves from pending to
-- approved or denied when the user decides, and from approved to redeemed when the device
-- gets its tokens; the redemption is one UPDATE ... WHERE state = 'approved', so a device
-- code is redeemed at most once.
CREATE TABLE device_codes (
    device_code_hash bytea PRIMARY KEY,
    -- Unique among every row kept: a new user code that collides is drawn again.
    user_code_hash   bytea NOT NULL UNIQUE,
    client_id        text NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    -- Requested at first, then the scopes the user approved.
    scopes           text[] NOT NULL DEFAULT '{}',
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'approved', 'denied', 'redeemed')),
    -- The user who decided, and when they signed in.
    user_id          uuid REFERENCES users (user_id) ON DELETE CASCADE,
    auth_time        timestamptz,
    -- The polling interval in seconds, raised by 5 at each slow_down (RFC 8628 section 3.5).
    interval_seconds integer NOT NULL CHECK (interval_seconds > 0),
    last_polled_at   timestamptz,
    expires_at       timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    decided_at       timestamptz,
    redeemed_at      timestamptz,
    CHECK ((state IN ('approved', 'redeemed')) = (user_id IS NOT NULL) OR state = 'denied')
);
CREATE INDEX device_codes_client_id_idx ON device_codes (client_id);
CREATE INDEX device_codes_user_id_idx ON device_codes (user_id);
CREATE INDEX device_codes_expires_at_idx ON device_codes (expires_at);
