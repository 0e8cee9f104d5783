/**
 * The `notifications` config section: where approval events go. Secrets (the
 * webhook's signing keys, Slack's webhook URL, which is itself a credential)
 * come from the environment or a file, never from the config text.
 */
import { z } from "zod";
import { secretRefSchema } from "../../config/secret.ts";

const targetName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/);
const timeoutMs = z.number().int().min(100).max(60_000).default(5000);

const webhookTargetSchema = z
  .object({
    webhook: z
      .object({
        /** Shown in metrics and `deliveries()`; default `webhook-<index>`. */
        name: targetName.optional(),
        url: z.url({ protocol: /^https?$/ }),
        /** One secret, or several while rotating: the body is signed with each. */
        secret: z.union([secretRefSchema, z.array(secretRefSchema).min(1).max(4)]),
        timeoutMs,
      })
      .strict(),
  })
  .strict();

const slackTargetSchema = z
  .object({
    slack: z
      .object({
        /** Shown in metrics and `deliveries()`; default `slack-<index>`. */
        name: targetName.optional(),
        /** The incoming-webhook URL (`https://hooks.slack.com/services/…`). */
        url: secretRefSchema,
        timeoutMs,
      })
      .strict(),
  })
  .strict();

export const notificationTargetSchema = z.union([webhookTargetSchema, slackTargetSchema]);
export type NotificationTarget = z.output<typeof notificationTargetSchema>;

export const notificationsSchema = z
  .array(notificationTargetSchema)
  .max(32)
  .superRefine((targets, ctx) => {
    const names = targets.map(targetNameOf);
    names.forEach((name, index) => {
      if (names.indexOf(name) !== index) {
        ctx.addIssue({
          code: "custom",
          message: `target name ${name} is used twice`,
          path: [index],
        });
      }
    });
  });
export type NotificationsConfig = z.output<typeof notificationsSchema>;

/** The target's name: as configured, or its kind and position in the list. */
export function targetNameOf(target: NotificationTarget, index: number): string {
  if ("webhook" in target) return target.webhook.name ?? `webhook-${index}`;
  return target.slack.name ?? `slack-${index}`;
}
