// The demo build's entry: what main/extension.ts loads when this file is present (development builds;
// packaged apps omit main/demo/). Registers the demo composition, the demo CLI commands and the lines
// `npm start` prints for the demo.
import type { DemoExtension } from '../extension.js';
import { DEMO_STAFF_PIN } from './constants.js';

export const demoExtension: DemoExtension = {
  compose: async (config, options) => (await import('./compose.js')).composeDemoTerminal(config, options),
  commands: {
    sim: {
      summary:
        'sim card --card NAME|FILE [--vpcd host:port] | sim pki: the virtual My Number Card, demo PKI (demo)',
      load: () => import('./sim-command.js'),
    },
    'hsm demo': {
      summary: 'hsm demo: provision the demo token, keys, mock 特定機関 CA (TEST) and certificate (demo)',
      load: () => import('./hsm-command.js'),
    },
  },
  softwareHid: async (actuators) => (await import('./hid.js')).createDemoHidRig(actuators)?.bus ?? null,
  startLines: (config) =>
    config.demo.enabled
      ? [`  demo: insert cards from the wallet on the page; staff PIN ${DEMO_STAFF_PIN}`]
      : [],
};
