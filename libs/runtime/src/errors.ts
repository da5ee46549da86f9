/**
 * A call that Erlang would answer with `badarg`: the arguments name something that cannot be
 * used (an unregistered name, a name already taken, an invalid option). The message says what
 * was wrong and how to fix it.
 */
export class BadArgError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'BadArgError';
  }
}

/** A registered name is already held by another process. */
export class NameTakenError extends BadArgError {
  constructor(
    readonly registeredName: string,
    readonly holder: string,
    message: string,
  ) {
    super(message);
    this.name = 'NameTakenError';
  }
}
