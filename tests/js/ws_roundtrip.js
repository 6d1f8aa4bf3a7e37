// MQTT.js over ws:// or wss:// against mqttd: two clients (MQTT 5 and 3.1.1) exchange a retained
// message, a QoS 1 and a QoS 0 message. Prints one JSON line with what the subscriber received;
// the Python test (tests/integration/test_ws_listener.py) asserts on it.
// Usage: node ws_roundtrip.js URL TOPIC_PREFIX [CA_FILE]
'use strict';
const fs = require('fs');
const mqtt = require('mqtt');

const [url, prefix, caFile] = process.argv.slice(2);
const tls = caFile ? { ca: fs.readFileSync(caFile), rejectUnauthorized: true } : {};

function waitFor(received, count, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for messages')), ms);
    const check = () => {
      if (received.length >= count) {
        clearTimeout(timer);
        resolve();
      } else {
        setTimeout(check, 10);
      }
    };
    check();
  });
}

async function main() {
  const common = { reconnectPeriod: 0, connectTimeout: 5000, ...tls };
  const publisher = await mqtt.connectAsync(url, { ...common, protocolVersion: 5 });
  await publisher.publishAsync(prefix + '/retained', 'kept for later', { qos: 1, retain: true });

  const subscriber = await mqtt.connectAsync(url, { ...common, protocolVersion: 4 });
  const received = [];
  subscriber.on('message', (topic, payload, packet) => {
    received.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain });
  });
  const granted = await subscriber.subscribeAsync(prefix + '/#', { qos: 1 });
  await waitFor(received, 1, 5000);
  const puback = await publisher.publishAsync(prefix + '/q1', 'at least once', { qos: 1 });
  await waitFor(received, 2, 5000);
  await publisher.publishAsync(prefix + '/q0', 'at most once', { qos: 0 });
  await waitFor(received, 3, 5000);
  await publisher.endAsync();
  await subscriber.endAsync();
  console.log(JSON.stringify({
    granted: granted.map((g) => g.qos),
    puback_reason: puback ? puback.reasonCode : null,
    received,
  }));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
