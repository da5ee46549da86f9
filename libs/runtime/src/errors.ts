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
