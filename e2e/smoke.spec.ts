import { expect, test } from '@playwright/test';

test('the page runs the default scenario and prints the kernel log', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('kernel-log')).toContainText('IOMMU has quarantined the device');
});
