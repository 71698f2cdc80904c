/** Exit codes of `pki` (sysexits.h where one fits). */
export const EXIT = {
  ok: 0,
  /** Anything else that went wrong (an answer that does not fit the request, an I/O error). */
  failure: 1,
  /** Bad options or state, or a 4xx answer (policy, authentication): retrying will not help. */
  badInput: 2,
  /** EX_TEMPFAIL: the RA (or the Kubernetes API) is unreachable or answered 5xx; retry later. */
  tempFail: 75,
} as const;

export const EX_TEMPFAIL = EXIT.tempFail;
