/**
 * The nouns of registry authentication, shared by the credential providers (credentials.ts,
 * docker-config.ts), the token client and the authorizer.
 */

/** Credentials for one registry. */
export interface Credential {
  readonly username?: string;
  readonly password?: string;
  /**
   * An OAuth2 refresh token (docker config `identitytoken`, or a credential helper's answer
   * with user `<token>`), exchanged at the token realm with `grant_type=refresh_token`.
   */
  readonly identityToken?: string;
  /** A bearer token sent as is, without asking a token server (docker config `registrytoken`). */
  readonly registryToken?: string;
}

/**
 * Credentials for a registry (`docker.io`, `registry.example:5000`), or undefined when this
 * provider has none. Undefined is an answer, not an error: the next provider is asked, and in
 * the end the client goes on anonymously.
 */
export type CredentialProvider = (registry: string) => Promise<Credential | undefined>;

/** An environment, as faces pass it in (`process.env`). */
export type Env = Readonly<Record<string, string | undefined>>;
