/**
 * The reactor's life-cycle states, in a module of their own with no imports, so that the
 * supervisor thread can read them before it loads anything else.
 */

/** Index of the life-cycle state ({@link State}). */
export const CTL_STATE = 0;
/** Life-cycle states, in the only order they can move in. */
export const State = {
  /** `setup()` created the supervisor thread, which has not run yet. */
  Booting: 0,
  /** The supervisor runs and watches the reactor, which is starting. */
  Supervised: 1,
  /** The reactor serves calls. */
  Running: 2,
  /** Someone is writing the stop cause; `Stopped` follows at once. */
  Stopping: 3,
  /** The reactor is gone; the cause is readable. */
  Stopped: 4,
} as const;
