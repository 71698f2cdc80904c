/** Why a path (or every candidate path) was refused. */
export interface Refusal {
  /** e.g. 'RFC5280-6.1.3(a)(1)'. */
  readonly rule: string;
  readonly message: string;
  /** Position in the candidate path: 0 = leaf. */
  readonly depth?: number;
}
