package workqueue

import "time"

// Clock is the source of time for a [Queue]. Timers take an absolute
// deadline rather than a duration so that a fake clock which is stepped
// concurrently with the queue can never make a timer fire late: a deadline
// that has already passed fires immediately.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimerAt returns a timer whose channel receives once the clock
	// reaches deadline.
	NewTimerAt(deadline time.Time) Timer
}

// Timer is a single-shot timer created by a [Clock].
type Timer interface {
	// C returns the channel on which the firing time is delivered.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether the call
	// stopped the timer (false if it had already fired or been stopped).
	Stop() bool
}

// RealClock is a [Clock] backed by the time package.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTimerAt returns a time.Timer that fires at deadline.
func (RealClock) NewTimerAt(deadline time.Time) Timer {
	return realTimer{time.NewTimer(time.Until(deadline))}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }
