/**
 * The packages an app's `packages_from_raw_bash` snippet chooses from its install answers, run
 * as YunoHost runs it: bash, YunoHost's variables and the answers only.
 */
import { describe, expect, it } from 'vitest';
import { aptSnippetPackages, snippetEnvironment, withYunohostPhp } from '../../builder/apps/apt-snippet.ts';

// the shape of my_webapp_ynh's snippet (database and PHP version chosen at install)
const MY_WEBAPP_LIKE = `
if [[ "$database" == "mysql" ]]; then
    echo "mariadb-server"
    if [[ "$phpversion" != none ]]; then echo "php\${phpversion}-mysql"; fi
fi
if [[ "$phpversion" != none ]]; then
    echo "php\${phpversion}-fpm"
fi
`;

const ctx = (answers: Record<string, string>) => ({ app: 'my_webapp', arch: 'amd64' as const, suite: 'bookworm', answers });

describe('aptSnippetPackages', () => {
  it("gives the packages the snippet prints for the image's answers", async () => {
    expect(await aptSnippetPackages(MY_WEBAPP_LIKE, ctx({ database: 'mysql', phpversion: '8.2' }))).toEqual(['mariadb-server', 'php8.2-mysql', 'php8.2-fpm']);
    expect(await aptSnippetPackages(MY_WEBAPP_LIKE, ctx({ database: 'none', phpversion: 'none' }))).toEqual([]);
  });

  it("sees YunoHost's variables and the answers, and nothing of the build's environment", async () => {
    process.env.CLIC_BUILD_SECRET = 'do-not-leak';
    try {
      const out = await aptSnippetPackages('echo "$YNH_ARCH" "$YNH_DEBIAN_VERSION" "php$YNH_DEFAULT_PHP_VERSION" "$(echo "$app" | tr _ -)" "x${CLIC_BUILD_SECRET:-unset}"', ctx({}));
      // (printed as package names: the app id's underscore is not one)
      expect(out).toEqual(['amd64', 'bookworm', 'php8.2', 'my-webapp', 'xunset']);
    } finally {
      delete process.env.CLIC_BUILD_SECRET;
    }
    expect(snippetEnvironment(ctx({ YNH_ARCH: 'evil', phpversion: '8.2' }))).toMatchObject({ YNH_ARCH: 'amd64', phpversion: '8.2' });
  });

  it('names the app when the snippet fails, or prints what is no package name', async () => {
    await expect(aptSnippetPackages('echo half; exit 3', ctx({}))).rejects.toThrow(/^app "my_webapp": its resources\.apt\.packages_from_raw_bash snippet failed: .*code 3/);
    await expect(aptSnippetPackages('echo "php8.2-fpm Error:"', ctx({}))).rejects.toThrow('snippet printed "Error:", which is not a Debian package name');
  });
});

describe('withYunohostPhp', () => {
  it("adds what YunoHost's apt helper adds for a PHP version, once", () => {
    expect(withYunohostPhp(['nginx', 'mariadb-server', 'php8.2-mysql', 'php8.2-fpm'])).toEqual(['nginx', 'mariadb-server', 'php8.2-mysql', 'php8.2-fpm', 'php8.2', 'php8.2-common']);
    expect(withYunohostPhp(['jq', 'php-common'])).toEqual(['jq', 'php-common']);
  });
});
