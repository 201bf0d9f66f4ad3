import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, defaultConfig, demoConfig, loadConfig, loadConfigWithMode, mergeConfig, validateConfig } from './config.js';

test('production defaults have no users; the demo has its public accounts', () => {
  const c = defaultConfig();
  validateConfig(c);
  assert.deepEqual(c.users, [], 'no built-in accounts outside demo mode');
  assert.deepEqual(c.queues, []);
  assert.ok(c.echoExtensions.includes('600'));
  const d = demoConfig();
  assert.ok(d.users.some((u) => u.extension === '1001'));
});

test('demo mode only without any configuration', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sbcfg-'));
  const file = path.join(dir, 'gw.json');
  writeFileSync(file, JSON.stringify({ http: { port: 9001 } }));
  const withFile = loadConfigWithMode(file, {});
  assert.equal(withFile.demo, false);
  assert.deepEqual(withFile.config.users, [], 'a config without users starts with no users');
  const none = loadConfigWithMode(undefined, {});
  assert.equal(none.demo, true);
  assert.ok(none.config.users.length > 0);
});

test('unknown keys and wrong types are refused with the key path', () => {
  const cases: Array<[object, RegExp]> = [
    [{ sip: { udpport: 5070 } }, /sip\.udpport: unknown key \(did you mean udpPort\?\)/],
    [{ htpp: { port: 1 } }, /htpp: unknown key \(did you mean http\?\)/],
    [{ users: [{ username: 'a', password: 'xxxxxx', role: 'agent', extention: '1' }] }, /users\[0\]\.extention: unknown key \(did you mean extension\?\)/],
    [{ auth: { allowedOrigins: 'https://a.example.com' } }, /auth\.allowedOrigins must be a list of origins/],
    [{ auth: { allowedOrigins: ['https://a.example.com/app'] } }, /auth\.allowedOrigins\[0\] must be an origin/],
    [{ media: { worker: 'yes' } }, /media\.worker/],
  ];
  for (const [raw, msg] of cases) assert.throws(() => validateConfig(raw), (e: Error) => e instanceof ConfigError && msg.test(e.message), JSON.stringify(raw));
});

test('file, then environment, override the defaults', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sbcfg-'));
  const file = path.join(dir, 'gw.json');
  writeFileSync(file, JSON.stringify({ http: { port: 9000 }, sip: { realm: 'acme' } }));
  const c = loadConfig(file, { SWITCHBOARD_SIP_PORT: '5070' });
  assert.deepEqual(c.users, []);
  assert.equal(c.http.port, 9000);
  assert.equal(c.sip.realm, 'acme');
  assert.equal(c.sip.udpPort, 5070);
  assert.equal(c.sip.minExpires, 60, 'unset keys keep their defaults');
});

test('clear errors that name the key', () => {
  const bad: Array<[object, RegExp]> = [
    [{ http: { port: 70000 } }, /http\.port must be a port number/],
    [{ sip: { ...defaultConfig().sip, digestAlgorithms: ['SHA1'] } }, /sip\.digestAlgorithms/],
    [{ auth: { tokenTtlSeconds: 90_000, allowedOrigins: [] } }, /24 h maximum/],
    [{ users: [{ username: 'a b', password: 'xxxxxx', role: 'agent' }] }, /users\[0\]\.username/],
    [{ users: [{ username: 'a', password: 'x', role: 'agent' }] }, /users\[0\]\.password/],
    [{ users: [{ username: 'a', password: 'xxxxxx', role: 'boss' }] }, /users\[0\]\.role/],
    [{ users: [{ username: 'a', password: 'xxxxxx', role: 'agent', extension: '1' }, { username: 'b', password: 'xxxxxx', role: 'agent', extension: '1' }] }, /"1" is used twice/],
    [{ queues: [{ name: 'q', extension: '1001' }] }, /queues\[0\]\.extension "1001" is already a user, extension or queue/],
    [{ queues: [{ name: 'alice' }] }, /queues\[0\]\.name "alice" is already a user or extension/],
    [{ queues: [{ name: 'q', strategy: 'random' }] }, /queues\[0\]\.strategy/],
    [{ queues: [{ name: 'q', overflow: { queue: 'nowhere' } }] }, /queues\[0\]\.overflow\.queue: no queue named "nowhere"/],
    [{ queues: [{ name: 'q', overflow: { queue: 'q' } }] }, /cannot overflow into itself/],
    [{ queues: [{ name: 'q', members: ['zed'] }] }, /queues\[0\]\.members must list configured users/],
    [{ queues: [{ name: 'q', ringTimeoutSeconds: 0 }] }, /queues\[0\]\.ringTimeoutSeconds/],
    [{ queues: [{ name: 'q', skills: { es: 11 } }] }, /queues\[0\]\.skills/],
    [{ queues: [{ name: 'q' }, { name: 'Q' }] }, /"Q" is used twice/],
    [{ center: { ...defaultConfig().center, wrapUpSeconds: -1 } }, /center\.wrapUpSeconds/],
    [{ center: { ...defaultConfig().center, notReadyReasons: ['coffee break'] } }, /center\.notReadyReasons/],
    [{ center: { ...defaultConfig().center, featureCodes: { ...defaultConfig().center.featureCodes, logout: '*70' } } }, /center\.featureCodes\.logout "\*70" is also center\.featureCodes\.available/],
    [{ center: { ...defaultConfig().center, featureCodes: { ...defaultConfig().center.featureCodes, available: '*5' } } }, /center\.featureCodes\.available "\*5" is the start of supervision\.featureCodes\.monitor \("\*51"\)/],
    [{ center: { ...defaultConfig().center, featureCodes: { ...defaultConfig().center.featureCodes, logout: 'x1' } } }, /center\.featureCodes\.logout must be 1-8 of 0-9 \* #/],
    [{ devices: { ...defaultConfig().devices, profiles: [{ userAgent: 'Yealink(', autoAnswer: 'header' }] } }, /devices\.profiles\[0\]\.userAgent must be a regular expression/],
    [{ devices: { ...defaultConfig().devices, profiles: [{ userAgent: '^Snom', autoAnswer: 'maybe' }] } } as never, /devices\.profiles\[0\]\.autoAnswer/],
    [{ devices: { ...defaultConfig().devices, autoAnswerHeaders: ['Call-Info answer-after=0'] } }, /devices\.autoAnswerHeaders\[0\] must be a header line "Name: value"/],
    [{ sip: { ...defaultConfig().sip, subscriptions: { watchers: 'everyone', minExpires: 60, maxExpires: 3600, maxPerUser: 10 } } }, /sip\.subscriptions\.watchers/],
    [{ users: [{ username: 'a', password: 'xxxxxx', role: 'agent', skills: { es: 0 } }] }, /users\[0\]\.skills/],
  ];
  for (const [over, msg] of bad) assert.throws(() => validateConfig(mergeConfig(demoConfig(), over)), (e: Error) => e instanceof ConfigError && msg.test(e.message));
  assert.throws(() => loadConfig(undefined, { SWITCHBOARD_HTTP_PORT: 'eighty' }), /SWITCHBOARD_HTTP_PORT must be a whole number/);
  assert.throws(() => loadConfig('/nonexistent/gw.json', {}), /cannot read config file/);
});
