import { InviteForm, MemberControls } from "@/components/TeamForms";
import { getTenant, listUsers } from "@/lib/api";
import { formatDay } from "@/lib/format";
import { requireSession } from "@/lib/session";

export const metadata = { title: "Team" };

export default async function TeamPage() {
  const session = await requireSession();
  const [tenant, members] = await Promise.all([getTenant(), listUsers()]);
  const where = { locale: tenant.locale, currency: tenant.currency };
  return (
    <>
      <h1>Team</h1>
      <section className="card" aria-labelledby="members-heading">
        <h2 id="members-heading">Who can sign in</h2>
        <div className="table-wrap" role="region" aria-label="The team" tabIndex={0}>
          <table>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Since</th>
                <th scope="col">Change</th>
              </tr>
            </thead>
            <tbody>
              {members.map((member) => (
                <tr key={member.user_id}>
                  <th scope="row">{member.email}</th>
                  <td>{member.role}</td>
                  <td>{member.disabled ? "Disabled" : "Active"}</td>
                  <td>{formatDay(member.created_at.slice(0, 10), where)}</td>
                  <td>
                    <MemberControls member={member} isSelf={member.user_id === session.userId} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section className="card" aria-labelledby="invite-heading">
        <h2 id="invite-heading">Invite someone</h2>
        <InviteForm />
      </section>
    </>
  );
}
