package store

// RotateCombined runs rotations as one combined statement, the way a busy server's
// queue is run, and returns for each the consumed token or nil when no usable token
// matched (RotateRefreshToken then finds out why).
func (s *Store) RotateCombined(rs []RefreshRotation) ([]*RefreshToken, []error) {
	return runCombined(rs, s.rotateBatch)
}

// RedeemCombined is RotateCombined for code redemptions.
func (s *Store) RedeemCombined(rs []CodeRedemption) ([]*AuthorizationCode, []error) {
	return runCombined(rs, s.redeemBatch)
}

func runCombined[In, T any](ins []In, run func([]*combinedCall[In, consumed[T]])) ([]*T, []error) {
	batch := make([]*combinedCall[In, consumed[T]], len(ins))
	for i, in := range ins {
		batch[i] = &combinedCall[In, consumed[T]]{in: in}
	}
	run(batch)
	rows, errs := make([]*T, len(ins)), make([]error, len(ins))
	for i, call := range batch {
		rows[i], errs[i] = call.out.row, call.err
	}
	return rows, errs
}
