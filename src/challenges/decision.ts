/**
 * One ACME challenge decision at the edge (http-01 by the responder, tls-alpn-01 by the TLS listener), as the admin
 * entry point counts and lists them. The log line of each decision stays the detailed record; this is its summary.
 */

/** Who answered: gatehouse itself, another instance through the shared store, the stateless thumbprint, the router's backend, a peer, the passthrough backend, or nobody. */
export type ChallengeAnswer = 'own' | 'shared' | 'stateless' | 'backend' | 'peer' | 'passthrough' | 'none';

/** A decision, told once per challenge request or validator handshake. */
export interface ChallengeDecision {
  readonly challenge: 'http-01' | 'tls-alpn-01';
  /** The Host (http-01) or SNI (tls-alpn-01) asked for; '' when the handshake had none. */
  readonly name: string;
  readonly answeredBy: ChallengeAnswer;
  /** http-01: the status sent (undefined when the client left first). */
  readonly status?: number | undefined;
  /** Why nobody answered, or who exactly did (`peer 10.0.0.2`, `backend whoami`). */
  readonly detail?: string | undefined;
}

/** Told of each decision; must not throw. */
export type ChallengeObserver = (decision: ChallengeDecision) => void;
