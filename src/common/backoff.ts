/**
 * When something done in the hope of saving time (spinning, polling) keeps not paying,
 * stop doing it for a while. After `misses` failures in a row it rests for `first` turns;
 * each rest that follows a failed try is twice as long, up to `longest`. A success ends a
 * rest at once and starts over.
 */
export class Backoff {
  readonly #missesToRest: number;
  readonly #first: number;
  readonly #longest: number;
  /** Failures in a row. */
  #misses = 0;
  /** Turns left to skip. */
  #resting = 0;
  /** How long the next rest lasts. */
  #rest: number;

  constructor(misses: number, first: number, longest = first) {
    this.#missesToRest = misses;
    this.#first = first;
    this.#longest = longest;
    this.#rest = first;
  }

  /** Whether to skip this turn because of a rest (counts the turn). */
  skip(): boolean {
    if (this.#resting === 0) return false;
    this.#resting--;
    return true;
  }

  /** It paid: forget the failures, and end a rest. */
  hit(): void {
    this.#misses = 0;
    this.#resting = 0;
    this.#rest = this.#first;
  }

  /** It did not pay. (While resting, failures tell nothing new.) */
  miss(): void {
    if (this.#resting > 0 || ++this.#misses < this.#missesToRest) return;
    this.#misses = 0;
    this.#resting = this.#rest;
    this.#rest = Math.min(this.#rest * 2, this.#longest);
  }
}
