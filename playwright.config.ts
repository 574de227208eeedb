import { existsSync } from 'node:fs';
import { defineConfig } from '@playwright/test';

// Browser tests run in the system Chromium (Debian package `chromium`):
// Playwright cannot download its own browser on machines without network.
// CHROMIUM_PATH overrides the location.
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// E2E_PORT moves the preview server (two checkouts can test at once).
const port = Number(process.env.E2E_PORT ?? 4173);
if (!existsSync(executablePath)) {
  throw new Error(`Chromium not found at ${executablePath}: install the Debian package "chromium" or set CHROMIUM_PATH`);
}

export default defineConfig({
  testDir: 'e2e',
  timeout: 60_000,
  fullyParallel: true,
  workers: 2,
  reporter: [['list'], ['json', { outputFile: 'reports/e2e.json' }]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1440, height: 900 },
    launchOptions: {
      executablePath,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    },
  },
  webServer: {
    command: `npm run build && npm run preview -- --port ${port}`,
    url: `http://127.0.0.1:${port}`,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
  },
});
