// `require('@mqtt-ota/node-red-contrib-mqtt-ota/broker')`: Aedes hooks for device identity at your own broker
// (src/broker/README.md), written in TypeScript in src/broker and compiled into build/ by `npm run build`.
module.exports = require('./build/src/broker');
