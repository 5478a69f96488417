import { describe, expect, it } from 'vitest';
import { createAgentLogger } from '../../src/daemon/logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, stream: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } };
}

describe('agent logger', () => {
  it('writes one JSON line per event with the component of its child', () => {
    const { lines, stream } = capture();
    const logger = createAgentLogger('info', stream);
    logger.root.child({ component: 'agent' }).child({ generation: 4 }).info({ step: 'setSysctl' }, 'applied');
    expect(lines).toEqual([{ level: 30, time: expect.any(String), component: 'agent', generation: 4, step: 'setSysctl', msg: 'applied' }]);
  });

  it('changes the level of children made before the change, however deep', () => {
    const { lines, stream } = capture();
    const logger = createAgentLogger('info', stream);
    const grandchild = logger.root.child({ component: 'reconcile' }).child({ generation: 1 });
    grandchild.debug('hidden');
    logger.setLevel('debug');
    grandchild.debug('shown');
    logger.root.child({ component: 'late' }).trace('hidden too');
    logger.setLevel('error');
    grandchild.warn('hidden again');
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
    expect(logger.level).toBe('error');
  });

  it('censors token and authorization fields wherever a mistake puts them', () => {
    const { lines, stream } = capture();
    const logger = createAgentLogger('info', stream);
    logger.root.info({ token: 'T0KEN', options: { token: 'T0KEN' }, headers: { Authorization: 'Bearer T0KEN' } }, 'oops');
    expect(JSON.stringify(lines)).not.toContain('T0KEN');
    expect(lines[0]).toMatchObject({ token: '[redacted]', options: { token: '[redacted]' } });
  });

  it('keeps the last ten warnings and errors for status', () => {
    const { stream } = capture();
    const logger = createAgentLogger('info', stream);
    const log = logger.root.child({ component: 'agent' });
    log.info('not a problem');
    for (let i = 0; i < 12; i++) log.warn(`warning ${i}`);
    log.error({ err: new Error('boom') }, 'step failed');
    const problems = logger.recentProblems();
    expect(problems).toHaveLength(10);
    expect(problems.at(-1)).toMatchObject({ level: 'error', component: 'agent', message: 'step failed: boom' });
    expect(problems[0]?.message).toBe('warning 3');
  });
});
