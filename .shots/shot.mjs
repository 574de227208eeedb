import { chromium } from '@playwright/test';
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
for (const [w, h, z, name] of [[1920,1080,1,'1920'],[1280,720,1,'1280'],[1920,1080,2,'zoom200']]) {
  const ctx = await b.newContext({ viewport: { width: Math.round(w / z), height: Math.round(h / z) }, deviceScaleFactor: z });
  const p = await ctx.newPage();
  await p.goto('http://127.0.0.1:4175/?present=1&t=2034.4');
  await p.waitForSelector('[data-testid="app"][data-ready="true"]');
  await p.waitForTimeout(500);
  await p.screenshot({ path: `/tmp/x/present-${name}.png` });
  const sizes = await p.evaluate(() => {
    const f = (sel) => { const e = document.querySelector(sel); return e ? e.getBoundingClientRect().height : null; };
    const cs = (sel) => { const e = document.querySelector(sel); return e ? getComputedStyle(e).fontSize : null; };
    return { bdfH: f('[data-testid="gdev"] text.bdf'), bdfFs: cs('[data-testid="gdev"] text.bdf'), logFs: cs('[data-testid="kernel-log"] .line'), logH: f('[data-testid="kernel-log"] .line') };
  });
  console.log(name, JSON.stringify(sizes));
  await ctx.close();
}
await b.close();
