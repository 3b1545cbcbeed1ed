/**
 * Debian's Chromium driven by playwright-core (no browser download: playwright-core ships none).
 * A missing browser is a failure with install instructions, never a skip: test/run.ts installs it.
 *
 * @example
 *   const browser = await launchChromium();
 *   const page = await browser.newPage();
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { chromiumPath } from './prerequisites.js';

export const CHROMIUM_PATH = chromiumPath();

const ARGS = [
  '--headless',
  '--no-sandbox', // containers and CI runners often run as root, where the sandbox cannot start
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is required for the browser tests and was not found at ${CHROMIUM_PATH}.\n` +
        'Install it with: sudo apt-get update && sudo apt-get install -y chromium\n' +
        '(or set CHROMIUM_PATH to a Chromium/Chrome binary). npm test installs it as root on Debian.',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, timeout: 30_000 });
}
