// Package modelcheck holds the checks that the model-based tests of the log share
// (mmaplog/model_test.go and the operation programs of fuzz/): a model of the cursor table
// (docs/FORMAT.md section 13) and the constraints retention must keep (section 5.7). It is
// for tests only.
//
// # Basics
//
// Cursors models the cursor table: the cursors in table order, their committed
// positions, and which positions a power loss may leave. Its methods run one call on a
// *mmaplog.Log (Cursor, Commit, Position, Cursors, DeleteCursor, Follow) and return an
// error describing the first difference from the model.
//
// Retention checks what retention removed around an operation that may enforce it (an
// append, Rotate, SetRetention). Before the operation it takes the layout of the live
// events over the segments from Log.Inspect; the caller tells it what was appended (their
// segments are predicted from the record sizes, and the prediction is checked against
// Inspect afterwards). After the operation it derives, from the policy, the layout, the
// model's live events and the cursor positions, the range of segment cuts that the rules
// of section 5.7 allow, and fails when the log removed anything else: not a whole-segment
// prefix, outside a turnover, the newest event's segment, more or less than the policy
// asks, past a cursor without MaxBytes, or counters that do not add up. It returns the new
// oldest id, so that the model drops exactly what the log dropped.
//
// # Caveats
//
// The segment of an id that is not live (a tombstone) is known only up to the segments
// of its live neighbours; where that leaves the allowed cut uncertain, every cut in the
// range is accepted. MaxAge is modelled only as a bound that never expires during a test
// (at least an hour).
//
// # Concurrency
//
// None: a Cursors or Retention belongs to one test goroutine.
package modelcheck
