/**
 * The error catalogue decides what the audit trail calls a security event: attacks on the policy,
 * the identity and the token are; the mistakes every agent or client makes are not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ErrorCode, errorCodes, securityEvent } from '../src/errors.js';

const kinds = (codes: string[]) => codes.map((code) => [code, securityEvent(code)?.kind]);

test('policy refusals are events, except syntax errors, empty text and the wrong tool', () => {
  assert.deepEqual(kinds(['FUNCTION_NOT_ALLOWED', 'WRITE_IN_QUERY', 'CONFIRMATION_MISMATCH']), [
    ['FUNCTION_NOT_ALLOWED', 'policy_refusal'],
    ['WRITE_IN_QUERY', 'policy_refusal'],
    ['CONFIRMATION_MISMATCH', 'policy_refusal'],
  ]);
  assert.deepEqual(kinds(['SYNTAX_ERROR', 'EMPTY', 'WRONG_TOOL', 'SQL_ERROR', 'ok']), [
    ['SYNTAX_ERROR', undefined],
    ['EMPTY', undefined],
    ['WRONG_TOOL', undefined],
    ['SQL_ERROR', undefined],
    ['ok', undefined],
  ]);
});

test('an integrity violation is an error-level event', () => {
  assert.deepEqual(securityEvent('INTEGRITY_VIOLATION'), { kind: 'integrity_violation', level: 'error' });
});

test('every token refusal is an auth failure except a missing token, the first step of discovery', () => {
  const token = (Object.keys(errorCodes) as ErrorCode[]).filter(
    (c) => c.startsWith('TOKEN_') || c === 'JWKS_UNAVAILABLE',
  );
  const events = token.filter((code) => securityEvent(code)?.kind === 'auth_failure');
  assert.deepEqual(
    token.filter((code) => !events.includes(code)),
    ['TOKEN_MISSING'],
  );
  assert.equal(errorCodes.TOKEN_MISSING.status, 401);
  assert.equal(errorCodes.TOKEN_IN_QUERY.status, 400);
  assert.equal(errorCodes.JWKS_UNAVAILABLE.status, 503);
});

test('names inherited from Object are not codes', () => {
  assert.equal(securityEvent('toString'), undefined);
  assert.equal(securityEvent('constructor'), undefined);
});
