package store

// RotateCombined runs rotations as one combined statement, the way a busy server's
// queue is run, and returns for each the consumed token or nil when no usable token
// matched (RotateRefreshToken then finds out why).
func (s *Store) RotateCombined(rs []RefreshRotation) ([]*RefreshToken, []error) {
	batch := make([]*combinedCall[RefreshRotation, rotation], len(rs))
	for i, r := range rs {
		batch[i] = &combinedCall[RefreshRotation, rotation]{in: r}
	}
	s.rotateBatch(batch)
	olds, errs := make([]*RefreshToken, len(rs)), make([]error, len(rs))
	for i, call := range batch {
		olds[i], errs[i] = call.out.old, call.err
	}
	return olds, errs
}

// RedeemCombined is RotateCombined for code redemptions.
func (s *Store) RedeemCombined(rs []CodeRedemption) ([]*AuthorizationCode, []error) {
	batch := make([]*combinedCall[CodeRedemption, redemption], len(rs))
	for i, r := range rs {
		batch[i] = &combinedCall[CodeRedemption, redemption]{in: r}
	}
	s.redeemBatch(batch)
	codes, errs := make([]*AuthorizationCode, len(rs)), make([]error, len(rs))
	for i, call := range batch {
		codes[i], errs[i] = call.out.code, call.err
	}
	return codes, errs
}
