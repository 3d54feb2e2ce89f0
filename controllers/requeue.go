/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	"fmt"
	"time"
)

// requeue is the one way a step of any reconciler says "not yet": the reconcile cannot go
// on, for a reason that is no failure of the operator, so it is looked at again without
// error backoff. Each reconciler turns it into its conditions and a ctrl.Result in one
// place (AuthServerReconciler.outcome, reconcileEntry), as it does every other error.
//
// A requeue that is not stalled waits for something that comes without a change of spec
// (an AuthServer or a Secret created later, a database coming up): it is shown as
// Reconciling and looked at again after `after`, or the reconciler's wait period when 0.
// A stalled one is a problem that a person must fix, by a change of the spec or of an
// object it names: it is shown as Stalled, with a Warning event when it first appears, and
// looked at again at the next change or resync.
type requeue struct {
	reason  string
	message string
	stalled bool
	after   time.Duration
}

func (q *requeue) Error() string { return q.reason + ": " + q.message }

// stalledf is a stalled requeue: a person must act.
func stalledf(reason, format string, a ...any) error {
	return &requeue{reason: reason, message: fmt.Sprintf(format, a...), stalled: true}
}

// waitingFor is a requeue that waits for something to come, looked at again after the
// period after (0: the reconciler's wait period).
func waitingFor(reason, message string, after time.Duration) error {
	return &requeue{reason: reason, message: message, after: after}
}
