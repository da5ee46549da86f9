import { defineFunction } from '@beamline/sdk';
import { z } from 'zod';

const orderSchema = z.strictObject({
  orderId: z.string().min(1),
  currency: z.enum(['EUR', 'USD', 'GBP']),
  customer: z.strictObject({ email: z.email(), country: z.string().length(2) }),
  lines: z
    .array(
      z.strictObject({
        sku: z.string().regex(/^[A-Z0-9-]{3,32}$/, 'a SKU is 3–32 capital letters, digits or "-"'),
        quantity: z.number().int().positive().max(1000),
        unitPriceCents: z.number().int().nonnegative(),
      }),
    )
    .min(1, 'an order has at least one line'),
  couponPercent: z.number().min(0).max(100).default(0),
});

export type Input = z.input<typeof orderSchema>;

export interface Output {
  readonly orderId: string;
  readonly currency: string;
  readonly items: number;
  readonly subtotalCents: number;
  readonly discountCents: number;
  readonly taxCents: number;
  readonly totalCents: number;
}

/** VAT by destination country; 0 elsewhere. */
const TAX_RATES: Readonly<Record<string, number>> = { FR: 0.2, DE: 0.19, GB: 0.2, IE: 0.23 };

export default defineFunction<Input, Output>(async (input, ctx) => {
  const parsed = orderSchema.safeParse(input);
  if (!parsed.success) {
    // The job fails with this message: it names each field that is wrong.
    throw new TypeError(`invalid order: ${z.prettifyError(parsed.error).replaceAll('\n', '; ')}`);
  }
  const order = parsed.data;
  const subtotalCents = order.lines.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0);
  const discountCents = Math.round((subtotalCents * order.couponPercent) / 100);
  const taxCents = Math.round((subtotalCents - discountCents) * (TAX_RATES[order.customer.country] ?? 0));
  ctx.log(`order ${order.orderId}: ${order.lines.length} lines for ${order.customer.email}`);
  return {
    orderId: order.orderId,
    currency: order.currency,
    items: order.lines.reduce((sum, line) => sum + line.quantity, 0),
    subtotalCents,
    discountCents,
    taxCents,
    totalCents: subtotalCents - discountCents + taxCents,
  };
});
