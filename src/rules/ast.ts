/**
 * The rule language's syntax tree. It knows nothing about requests or connections: the HTTP matchers and
 * (later) the SNI matchers are tables compiled over this same tree.
 */

/** A parsed rule: boolean operators over matcher calls; a call's `column` (1-based) is where its name starts. */
export type RuleNode =
  | { type: 'and' | 'or'; left: RuleNode; right: RuleNode }
  | { type: 'not'; operand: RuleNode }
  | { type: 'call'; name: string; args: string[]; column: number };

/** The call nodes of a tree, left to right, so callers can list the matchers a rule uses. */
export function ruleCalls(node: RuleNode): Extract<RuleNode, { type: 'call' }>[] {
  const out: Extract<RuleNode, { type: 'call' }>[] = [];
  const visit = (n: RuleNode): void => {
    if (n.type === 'call') out.push(n);
    else if (n.type === 'not') visit(n.operand);
    else {
      visit(n.left);
      visit(n.right);
    }
  };
  visit(node);
  return out;
}
