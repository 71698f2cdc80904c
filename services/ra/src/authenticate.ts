import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AUTHZ_RULES, AppError, AuthError, methodNotAllowed, requireScopes, type AuditTrail, type Caller, type Metrics, type RequestScope } from '@evpki/service';
import { validateAuditEvent, type RaStore, type TenantRecord } from '@evpki/store';
import type { MatchedOperation, Operation } from './operations.js';

/** What the authentication middleware leaves in `res.locals` for the routes and the error handler. */
export interface RequestContext {
  readonly caller: Caller;
  readonly tenant: TenantRecord;
  /** The openapi.yaml operation the scopes were checked against, and the only one that runs. */
  readonly operation: Operation;
  /** Its path parameters, from the same match. */
  readonly params: Readonly<Record<string, string>>;
  /** Who acts, as the audit log names them. */
  readonly actor: string;
  /** The request's id (requestOf), sent on with the calls to the CA. */
  readonly requestId: string;
  /** Set once the request's refusal is in the audit log, so it is not recorded twice. */
  audited?: boolean;
}

export const contextOf = (res: Response): RequestContext => res.locals.ctx as RequestContext;
/** The request's id and the logger whose lines carry it: set first, for every request (service.ts). */
export const requestOf = (res: Response): RequestScope => res.locals.request as RequestScope;
export const maybeContextOf = (res: Response): RequestContext | undefined => res.locals.ctx as RequestContext | undefined;

/**
 * The token's subject as the audit actor; one the audit log would refuse (it looks like a secret,
 * or is not printable) is replaced by a digest, so that a strange `sub` cannot fail an issuance.
 */
export function actorOf(caller: Caller): string {
  const subject = caller.subject;
  if (subject) {
    try {
      validateAuditEvent({ event: 'probe', actor: subject, outcome: 'ok' });
      if (/^[\x21-\x7e][\x20-\x7e]*$/.test(subject)) return subject;
    } catch {
      /* refused: digest below */
    }
    return `sub-sha256:${createHash('sha256').update(subject).digest('hex').slice(0, 32)}`;
  }
  return `tenant:${caller.tenant}`;
}

export interface AuthenticateDeps {
  readonly verify: (authorization: string | undefined) => Promise<Caller>;
  readonly match: (method: string, rawPath: string) => MatchedOperation | undefined;
  /** The methods openapi.yaml has at exactly this path: a request with another method is 405 with Allow. */
  readonly allowed: (rawPath: string) => string[];
  readonly store: RaStore;
  readonly audit: AuditTrail;
  readonly metrics: Metrics;
}

/** Product rule: a request that is no operation of openapi.yaml, in its exact spelling, is refused. */
export const ROUTE_RULE = 'Authz.route';

/** The request's path as sent (no query), before any decoding: what the operations are matched on. */
export const rawPathOf = (req: Request): string => (req.originalUrl || req.url).split('?')[0]!;

/**
 * The gate of every request but the ops routes: a valid bearer token (401 otherwise), an
 * openapi.yaml operation for exactly this method and raw path (404 otherwise: deny by default, so
 * that no other spelling can reach a handler unchecked), the scopes it names (403,
 * insufficient_scope), and an existing, enabled tenant (403). Runs before the body is read and
 * before schema validation, so an anonymous caller learns nothing about the API. Every refusal goes
 * to the audit log (anonymous ones rate limited). The operation matched here is the one dispatched.
 */
export function authenticate(d: AuthenticateDeps): RequestHandler {
  async function run(req: Request, res: Response): Promise<void> {
    const matched = d.match(req.method, rawPathOf(req));
    const route = matched?.operation.route ?? 'unmatched';
    let caller: Caller;
    try {
      caller = await d.verify(req.get('authorization'));
    } catch (e) {
      if (e instanceof AuthError) {
        d.metrics.authFailures.inc({ reason: e.reason });
        await d.audit.recordAuthFailure({
          event: 'auth.failed',
          actor: 'anonymous',
          outcome: 'refused',
          details: { reason: e.reason, route, remoteAddress: req.socket.remoteAddress ?? null },
        });
      }
      throw e;
    }
    const actor = actorOf(caller);
    try {
      const allow = matched ? [] : d.allowed(rawPathOf(req));
      if (allow.length)
        throw methodNotAllowed(allow, [{ rule: ROUTE_RULE, message: `this path has no ${req.method} operation in openapi.yaml` }]);
      if (!matched)
        throw new AppError('not-found', 'no such operation', [
          { rule: ROUTE_RULE, message: 'no operation of openapi.yaml has this method and path, spelt exactly (case, no trailing slash, no empty, dot or percent-encoded segment)' },
        ]);
      requireScopes(caller, matched.operation.scopes);
      const tenant = await d.store.getTenant(caller.tenant);
      if (!tenant || tenant.disabled)
        throw new AppError('forbidden', `the token's tenant ${caller.tenant} is unknown or disabled`, [{ rule: AUTHZ_RULES.tenant, message: 'the tenant claim names no enabled tenant' }]);
      const ctx: RequestContext = { caller, tenant, operation: matched.operation, params: matched.params, actor, requestId: requestOf(res).id };
      res.locals.ctx = ctx;
    } catch (e) {
      if (e instanceof AppError && (e.kind === 'forbidden' || e.kind === 'not-found' || e.kind === 'method-not-allowed')) {
        d.metrics.authFailures.inc({ reason: e.kind });
        const rules = e.violations?.map((v) => v.rule);
        await d.audit.recordRefusal({
          event: 'auth.forbidden',
          actor,
          outcome: 'refused',
          tenant: caller.tenant,
          ...(rules?.length ? { rules } : {}),
          details: { route, reason: e.message },
        });
      }
      throw e;
    }
  }
  return (req: Request, res: Response, next: NextFunction) => {
    run(req, res).then(() => next(), next);
  };
}
