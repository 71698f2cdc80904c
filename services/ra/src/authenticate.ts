import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError, AuthError, requireScopes, type AuditTrail, type Caller, type Metrics } from '@evpki/service';
import { validateAuditEvent, type Store, type TenantRecord } from '@evpki/store';
import type { Operation } from './operations.js';

/** What the authentication middleware leaves in `res.locals` for the routes and the error handler. */
export interface RequestContext {
  readonly caller: Caller;
  readonly tenant: TenantRecord;
  /** The openapi.yaml operation; undefined for a path the contract does not have (the validator answers 404). */
  readonly operation: Operation | undefined;
  /** Who acts, as the audit log names them. */
  readonly actor: string;
  /** Set once the request's refusal is in the audit log, so it is not recorded twice. */
  audited?: boolean;
}

export const contextOf = (res: Response): RequestContext => res.locals.ctx as RequestContext;
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
  readonly operationOf: (method: string, path: string) => Operation | undefined;
  readonly store: Store;
  readonly audit: AuditTrail;
  readonly metrics: Metrics;
}

/**
 * Every /v1 request: a valid bearer token (401 otherwise), the scopes its openapi.yaml operation
 * names (403, insufficient_scope), and an existing, enabled tenant (403). Runs before the body is
 * read and before schema validation, so an anonymous caller learns nothing about the API. Every
 * refusal goes to the audit log (anonymous ones rate limited).
 */
export function authenticate(d: AuthenticateDeps): RequestHandler {
  async function run(req: Request, res: Response): Promise<void> {
    const path = req.baseUrl + req.path;
    const operation = d.operationOf(req.method, path);
    const route = operation?.route ?? 'unmatched';
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
      if (operation) requireScopes(caller, operation.scopes);
      const tenant = await d.store.getTenant(caller.tenant);
      if (!tenant || tenant.disabled) throw new AppError('forbidden', `the token's tenant ${caller.tenant} is unknown or disabled`);
      const ctx: RequestContext = { caller, tenant, operation, actor };
      res.locals.ctx = ctx;
    } catch (e) {
      if (e instanceof AppError && e.kind === 'forbidden') {
        d.metrics.authFailures.inc({ reason: 'forbidden' });
        await d.audit.recordRefusal({ event: 'auth.forbidden', actor, outcome: 'refused', tenant: caller.tenant, details: { route, reason: e.message } });
      }
      throw e;
    }
  }
  return (req: Request, res: Response, next: NextFunction) => {
    run(req, res).then(() => next(), next);
  };
}
