import type { Principal } from '../../src/protocol/model.js';

export const ADMIN: Principal = { role: 'admin' };
export const ALICE: Principal = { role: 'customer', customerId: 'alice' };
export const BOB: Principal = { role: 'customer', customerId: 'bob' };
export const PAYMENTS: Principal = { role: 'payments' };
export const WAREHOUSE: Principal = { role: 'warehouse' };
export const CARRIER: Principal = { role: 'carrier' };
