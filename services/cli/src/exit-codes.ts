/** Exit codes of `pki` (sysexits.h where one fits). */
export const EXIT = {
  ok: 0,
  /** Anything else that went wrong (an answer that does not fit the request, an I/O error). */
  failure: 1,
  /** Bad options or state, or a 4xx answer (policy, authentication): retrying will not help. */
  badInput: 2,
  /** Done in part: some input rows were refused (listed in the report), the others were done (`pki stations import`). */
  partial: 3,
  /** EX_TEMPFAIL: the RA (or the Kubernetes API) is unreachable or answered 5xx; retry later. */
  tempFail: 75,
} as const;

export const EX_TEMPFAIL = EXIT.tempFail;

/** The exit codes as `pki --help` lists them (the one place they are described). */
export const EXIT_CODES_HELP = `Exit codes:
  0   success
  1   failure (anything else: an I/O error, an answer that does not fit the request)
  2   bad input or state: bad options, an unusable file, a PKI that already exists, an unknown or
      disabled tenant, the RA refusing a request with 4xx; retrying will not help
  3   done in part: some rows were refused (see --report), the others were imported (stations import)
  75  temporary failure (EX_TEMPFAIL): the RA or the store unreachable, or a 5xx; retry later
`;
